package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/edgetuf/edgetuf/internal/scripttest"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// scriptCmds are the commands the scripts in testdata/ use besides
// mclient and mrepo: what a user (or an attacker) does by hand to a
// repository or a device: edit JSON, flip a byte, copy a tree, find the
// file behind a target, re-sign metadata with a stolen key. Each one
// fails the script with a clear message when used wrongly. The generic
// ones, shared with cmd/mrepo's scripts, come from internal/scripttest.
var scriptCmds = func() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	cmds := scripttest.Commands()
	maps.Copy(cmds, map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"mkweights":   cmdMkweights,
		"setcontrols": cmdSetControls,
		"setepoch":    cmdSetEpoch,
		"swtpm":       cmdSWTPM,
		"targetfile":  cmdTargetFile,
		"tuf-meta":    cmdTUFMeta,
		"tuf-resign":  cmdTUFResign,
	})
	return cmds
}()

// keySigner decrypts an mrepo key file with $MREPO_PASSPHRASE.
func keySigner(ts *testscript.TestScript, file string) signature.Signer {
	kf, err := keys.ParseFile([]byte(ts.ReadFile(file)))
	ts.Check(err)
	key, err := kf.Decrypt([]byte(ts.Getenv("MREPO_PASSPHRASE")))
	ts.Check(err)
	s, err := key.Signer()
	ts.Check(err)
	return s
}

// onlineSigners are the targets, snapshot and timestamp keys in keyDir,
// decrypted with $MREPO_PASSPHRASE.
func onlineSigners(ts *testscript.TestScript, keyDir string) testrepo.ControlSigners {
	s, err := testrepo.DirSigners(ts.MkAbs(keyDir), ts.Getenv("MREPO_PASSPHRASE"))
	ts.Check(err)
	return s
}

// setepoch REPO KEYS MODEL@VERSION N
//
// Sets the signed rollback epoch of MODEL@VERSION's manifest target to N
// and re-signs targets, snapshot and timestamp with KEYS (as
// setcontrols does; mrepo add-target assigns epochs itself).
func cmdSetEpoch(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "setepoch")
	if len(args) != 4 {
		ts.Fatalf("usage: setepoch REPO KEYS MODEL@VERSION N")
	}
	model, version, ok := strings.Cut(args[2], "@")
	if !ok {
		ts.Fatalf("setepoch: %q: want MODEL@VERSION", args[2])
	}
	e, err := strconv.ParseUint(args[3], 10, 64)
	ts.Check(err)
	ts.Check(testrepo.ForgeCustomDir(ts.MkAbs(args[0]), model, version, func(c *targets.Custom) { c.Epoch = e }, onlineSigners(ts, args[1])))
}

// targetfile VAR REPO TARGET
//
// Sets VAR to the file under REPO/targets/ that holds the bytes of the
// published TARGET (models/det/1.0.0/model.bin): with consistent
// snapshots its name is prefixed with its SHA-256.
func cmdTargetFile(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "targetfile")
	if len(args) != 3 {
		ts.Fatalf("usage: targetfile VAR REPO TARGET")
	}
	dir, base := filepath.Split(filepath.FromSlash(args[2]))
	matches, err := filepath.Glob(filepath.Join(ts.MkAbs(args[1]), "targets", dir, "*."+base))
	ts.Check(err)
	if len(matches) != 1 {
		ts.Fatalf("%d files hold %s in %s, want 1: %v", len(matches), args[2], args[1], matches)
	}
	ts.Setenv(args[0], matches[0])
	ts.Logf("%s=%s", args[0], matches[0])
}

// tuf-meta FILE ENTRY REFFILE
//
// Makes the entry signed.meta[ENTRY] of the timestamp or snapshot
// metadata FILE describe REFFILE: its length and SHA-256 (the version is
// kept). The signatures of FILE are left alone, so they no longer match;
// see tuf-resign.
func cmdTUFMeta(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "tuf-meta")
	if len(args) != 3 {
		ts.Fatalf("usage: tuf-meta FILE ENTRY REFFILE")
	}
	ref := []byte(ts.ReadFile(args[2]))
	sum := sha256.Sum256(ref)
	v := scripttest.ReadJSON(ts, args[0])
	v = scripttest.EditJSON(ts, v, []string{"signed", "meta", args[1], "length"}, json.Number(strconv.Itoa(len(ref))), false)
	v = scripttest.EditJSON(ts, v, []string{"signed", "meta", args[1], "hashes"}, map[string]any{"sha256": hex.EncodeToString(sum[:])}, false)
	scripttest.WriteJSON(ts, args[0], v)
}

// tuf-resign FILE KEYFILE
//
// Replaces the signatures of the TUF metadata FILE with one by the private
// key in KEYFILE (an mrepo key file, decrypted with $MREPO_PASSPHRASE):
// what whoever holds that key can do.
func cmdTUFResign(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "tuf-resign")
	if len(args) != 2 {
		ts.Fatalf("usage: tuf-resign FILE KEYFILE")
	}
	kf, err := keys.ParseFile([]byte(ts.ReadFile(args[1])))
	ts.Check(err)
	key, err := kf.Decrypt([]byte(ts.Getenv("MREPO_PASSPHRASE")))
	ts.Check(err)
	signer, err := key.Signer()
	ts.Check(err)
	var typ struct {
		Signed struct {
			Type string `json:"_type"`
		} `json:"signed"`
	}
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &typ))
	path := ts.MkAbs(args[0])
	switch typ.Signed.Type {
	case metadata.ROOT:
		resign(ts, metadata.Root(), path, signer)
	case metadata.TARGETS:
		resign(ts, metadata.Targets(), path, signer)
	case metadata.SNAPSHOT:
		resign(ts, metadata.Snapshot(), path, signer)
	case metadata.TIMESTAMP:
		resign(ts, metadata.Timestamp(), path, signer)
	default:
		ts.Fatalf("%s: unknown metadata type %q", args[0], typ.Signed.Type)
	}
}

func resign[T metadata.Roles](ts *testscript.TestScript, md *metadata.Metadata[T], path string, signer signature.Signer) {
	md, err := md.FromFile(path)
	ts.Check(err)
	md.ClearSignatures()
	_, err = md.Sign(signer)
	ts.Check(err)
	ts.Check(md.ToFile(path, true))
}

// mkweights FILE KIB [VERSION...]
//
// Writes KIB KiB of model weights to FILE (creating its directory):
// float32 values, the same for any FILE, except that each VERSION (a
// number from 1 to 31) nudges the weights of its own 1/32 of the file and
// rewrites a 4 KiB block in another, as a fine-tuning run does. Files
// written with the versions 1 and 1 2 differ in a few percent of their
// bytes: the patch between them is small.
func cmdMkweights(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "mkweights")
	if len(args) < 2 {
		ts.Fatalf("usage: mkweights FILE KIB [VERSION...]")
	}
	kib, err := strconv.Atoi(args[1])
	if err != nil || kib < 16 {
		ts.Fatalf("mkweights: KIB %q: want a number >= 16", args[1])
	}
	r := rand.New(rand.NewPCG(7, 11))
	w := make([]float32, kib<<10/4)
	for i := range w {
		w[i] = float32(r.NormFloat64() * 0.05)
	}
	region := len(w) / 32
	for _, a := range args[2:] {
		v, err := strconv.Atoi(a)
		if err != nil || v < 1 || v > 31 {
			ts.Fatalf("mkweights: VERSION %q: want 1-31", a)
		}
		rv := rand.New(rand.NewPCG(uint64(v), 99))
		start := v * region
		for i := start; i < start+region; i++ {
			w[i] += float32(rv.NormFloat64() * 0.001)
		}
		blk := (31 - v) * region
		for i := blk; i < blk+min(1024, region); i++ {
			w[i] = float32(rv.NormFloat64() * 0.05)
		}
	}
	b := make([]byte, 4*len(w))
	for i, f := range w {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	name := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(name), 0o755))
	ts.Check(os.WriteFile(name, b, 0o644))
}

// setcontrols REPO KEYS MODEL@VERSION [percent=P] [salt=S] [class=C]...
// [start=TIME] [halt=REASON] [revoke=REASON] [policy=JSON] [targets-key=FILE]
//
// The attacker's rollout change (the stories make genuine ones with mrepo
// rollout, revoke and policy): sets the signed controls of MODEL@VERSION's
// manifest target (only those given; none given clears them) and
// publishes new targets, snapshot and timestamp signed, without any check,
// with KEYS/{targets,snapshot,timestamp}.key (decrypted with
// $MREPO_PASSPHRASE), or with targets-key=FILE for the targets metadata: a
// forgery when FILE is not the targets key (testrepo.ForgeControlsDir).
func cmdSetControls(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "setcontrols")
	if len(args) < 3 {
		ts.Fatalf("usage: setcontrols REPO KEYS MODEL@VERSION [percent=P] [salt=S] [class=C]... [start=TIME] [halt=REASON] [revoke=REASON] [policy=JSON] [targets-key=FILE]")
	}
	model, version, ok := strings.Cut(args[2], "@")
	if !ok {
		ts.Fatalf("setcontrols: %q: want MODEL@VERSION", args[2])
	}
	signer := func(file string) signature.Signer { return keySigner(ts, file) }
	s := onlineSigners(ts, args[1])
	var ro *targets.Rollout
	var rev *targets.Revocation
	var pol *targets.Policy
	rollout := func() *targets.Rollout {
		if ro == nil {
			ro = &targets.Rollout{BasisPoints: targets.Buckets, Salt: "testsalt"}
		}
		return ro
	}
	for _, a := range args[3:] {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			ts.Fatalf("setcontrols: %q: want KEY=VALUE", a)
		}
		switch k {
		case "percent":
			bp, err := targets.ParsePercent(v)
			ts.Check(err)
			rollout().BasisPoints = bp
		case "salt":
			rollout().Salt = v
		case "class":
			rollout().DeviceClasses = append(rollout().DeviceClasses, v)
		case "start":
			rollout().Start = v
		case "halt":
			rollout().BasisPoints, rollout().HaltReason = 0, v
		case "revoke":
			rev = &targets.Revocation{Reason: v, Time: "2026-01-01T00:00:00Z"}
		case "policy":
			pol = &targets.Policy{}
			ts.Check(json.Unmarshal([]byte(v), pol))
		case "targets-key":
			s.Targets = signer(v)
		default:
			ts.Fatalf("setcontrols: unknown %q", k)
		}
	}
	ts.Check(testrepo.ForgeControlsDir(ts.MkAbs(args[0]), model, version, ro, rev, pol, s))
}
