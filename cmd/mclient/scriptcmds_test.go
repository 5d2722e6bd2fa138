package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/keys"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// scriptCmds are the commands the scripts in testdata/ use besides
// mclient and mrepo: what a user (or an attacker) does by hand to a
// repository or a device: edit JSON, flip a byte, copy a tree, find the
// file behind a target, re-sign metadata with a stolen key. Each one
// fails the script with a clear message when used wrongly. The generic
// ones are those of cmd/mrepo's scripts.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"capture":    cmdCapture,
	"cpdir":      cmdCpdir,
	"exits":      cmdExits,
	"flipbyte":   cmdFlipbyte,
	"jsonget":    cmdJSONGet,
	"jsonset":    cmdJSONSet,
	"mkweights":  cmdMkweights,
	"sha256":     cmdSHA256,
	"targetfile": cmdTargetFile,
	"treesum":    cmdTreesum,
	"tuf-meta":   cmdTUFMeta,
	"tuf-resign": cmdTUFResign,
	"waitfile":   cmdWaitfile,
}

// targetfile VAR REPO TARGET
//
// Sets VAR to the file under REPO/targets/ that holds the bytes of the
// published TARGET (models/det/1.0.0/model.bin): with consistent
// snapshots its name is prefixed with its SHA-256.
func cmdTargetFile(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "targetfile")
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
	noNeg(ts, neg, "tuf-meta")
	if len(args) != 3 {
		ts.Fatalf("usage: tuf-meta FILE ENTRY REFFILE")
	}
	ref := []byte(ts.ReadFile(args[2]))
	sum := sha256.Sum256(ref)
	v := readJSON(ts, args[0])
	v = editJSON(ts, v, []string{"signed", "meta", args[1], "length"}, json.Number(strconv.Itoa(len(ref))), false)
	v = editJSON(ts, v, []string{"signed", "meta", args[1], "hashes"}, map[string]any{"sha256": hex.EncodeToString(sum[:])}, false)
	writeJSON(ts, args[0], v)
}

// tuf-resign FILE KEYFILE
//
// Replaces the signatures of the TUF metadata FILE with one by the private
// key in KEYFILE (an mrepo key file, decrypted with $MREPO_PASSPHRASE):
// what whoever holds that key can do.
func cmdTUFResign(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "tuf-resign")
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

func noNeg(ts *testscript.TestScript, neg bool, name string) {
	if neg {
		ts.Fatalf("unsupported: ! %s", name)
	}
}

// exits CODE PROG [ARGS...]
//
// Runs PROG like exec and requires exit status CODE; stdout and stderr are
// then available to stdout/stderr as after exec.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "exits")
	if len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// capture VAR REGEXP [FILE]
//
// Sets the environment variable VAR to the first parenthesised group (or
// the whole match) of REGEXP in FILE, default the last command's stdout.
func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "capture")
	if len(args) != 2 && len(args) != 3 {
		ts.Fatalf("usage: capture VAR REGEXP [FILE]")
	}
	file := "stdout"
	if len(args) == 3 {
		file = args[2]
	}
	re, err := regexp.Compile(`(?m)` + args[1])
	ts.Check(err)
	m := re.FindStringSubmatch(ts.ReadFile(file))
	if m == nil {
		ts.Fatalf("no match for %#q in %s", args[1], file)
	}
	v := m[0]
	if len(m) > 1 {
		v = m[1]
	}
	ts.Setenv(args[0], v)
	ts.Logf("%s=%s", args[0], v)
}

// flipbyte FILE OFFSET
//
// Inverts the lowest bit of the byte at OFFSET (negative: from the end).
func cmdFlipbyte(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "flipbyte")
	if len(args) != 2 {
		ts.Fatalf("usage: flipbyte FILE OFFSET")
	}
	name := ts.MkAbs(args[0])
	data, err := os.ReadFile(name)
	ts.Check(err)
	off, err := strconv.Atoi(args[1])
	ts.Check(err)
	if off < 0 {
		off += len(data)
	}
	if off < 0 || off >= len(data) {
		ts.Fatalf("offset %s outside %s (%d bytes)", args[1], args[0], len(data))
	}
	data[off] ^= 1
	ts.Check(os.WriteFile(name, data, 0o644))
}

// cpdir SRC DST
//
// Copies the directory tree SRC to DST (which must not exist), keeping
// file modes and symlinks.
func cmdCpdir(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "cpdir")
	if len(args) != 2 {
		ts.Fatalf("usage: cpdir SRC DST")
	}
	src, dst := ts.MkAbs(args[0]), ts.MkAbs(args[1])
	if _, err := os.Lstat(dst); err == nil {
		ts.Fatalf("%s already exists", args[1])
	}
	ts.Check(filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			return os.MkdirAll(target, fi.Mode().Perm())
		case fi.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(target, data, fi.Mode().Perm()); err != nil {
				return err
			}
			return os.Chmod(target, fi.Mode().Perm())
		}
	}))
}

// treesum DIR
//
// Prints one line per directory, file and symlink under DIR, sorted: a
// fingerprint of the whole tree (names, modes, contents) to compare with
// cmp before and after a command that must change nothing.
func cmdTreesum(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "treesum")
	if len(args) != 1 {
		ts.Fatalf("usage: treesum DIR")
	}
	root := ts.MkAbs(args[0])
	var lines []string
	ts.Check(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			lines = append(lines, fmt.Sprintf("dir  %04o %s/", fi.Mode().Perm(), rel))
		case fi.Mode()&fs.ModeSymlink != 0:
			link, _ := os.Readlink(p)
			lines = append(lines, fmt.Sprintf("link %s -> %s", rel, link))
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			lines = append(lines, fmt.Sprintf("file %04o %s %s", fi.Mode().Perm(), hex.EncodeToString(sum[:8]), rel))
		}
		return nil
	}))
	sort.Strings(lines)
	fmt.Fprintln(ts.Stdout(), strings.Join(lines, "\n"))
}

// waitfile FILE
//
// Waits (up to 10 seconds) until FILE exists and is not empty.
func cmdWaitfile(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "waitfile")
	if len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	name := ts.MkAbs(args[0])
	deadline := time.Now().Add(10 * time.Second)
	for {
		if fi, err := os.Stat(name); err == nil && fi.Size() > 0 {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not appear within 10s", args[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// JSON paths: keys separated by dots; a key in square brackets may contain
// dots and slashes (signed.targets[models/m/1.0.0/model.bin].length); a
// number indexes an array (signatures.0).
func splitJSONPath(ts *testscript.TestScript, p string) []string {
	var parts []string
	for p != "" {
		switch {
		case p[0] == '.':
			p = p[1:]
		case p[0] == '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				ts.Fatalf("unterminated [ in JSON path")
			}
			parts = append(parts, p[1:end])
			p = p[end+1:]
		default:
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			parts = append(parts, p[:end])
			p = p[end:]
		}
	}
	if len(parts) == 0 {
		ts.Fatalf("empty JSON path")
	}
	return parts
}

func readJSON(ts *testscript.TestScript, file string) any {
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile(file)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		ts.Fatalf("%s: %v", file, err)
	}
	return v
}

func writeJSON(ts *testscript.TestScript, file string, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "\t")
	ts.Check(enc.Encode(v))
	ts.Check(os.WriteFile(ts.MkAbs(file), buf.Bytes(), 0o644))
}

// walkJSON returns the value at parts.
func walkJSON(ts *testscript.TestScript, v any, parts []string) any {
	for i, part := range parts {
		switch c := v.(type) {
		case map[string]any:
			next, ok := c[part]
			if !ok {
				ts.Fatalf("no key %q at %s", part, strings.Join(parts[:i], "."))
			}
			v = next
		case []any:
			n, err := strconv.Atoi(part)
			if err != nil || n < 0 || n >= len(c) {
				ts.Fatalf("no index %q at %s (%d elements)", part, strings.Join(parts[:i], "."), len(c))
			}
			v = c[n]
		default:
			ts.Fatalf("%s is not an object or array", strings.Join(parts[:i], "."))
		}
	}
	return v
}

// jsonget FILE PATH
//
// Prints the value at PATH in the JSON document FILE ("stdout" for the
// last command's output): strings as they are, anything else as compact
// JSON.
func cmdJSONGet(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "jsonget")
	if len(args) != 2 {
		ts.Fatalf("usage: jsonget FILE PATH")
	}
	v := walkJSON(ts, readJSON(ts, args[0]), splitJSONPath(ts, args[1]))
	if s, ok := v.(string); ok {
		fmt.Fprintln(ts.Stdout(), s)
		return
	}
	b, err := json.Marshal(v)
	ts.Check(err)
	fmt.Fprintln(ts.Stdout(), string(b))
}

// editJSON returns v with the value at parts replaced by val, or deleted
// when del is set.
func editJSON(ts *testscript.TestScript, v any, parts []string, val any, del bool) any {
	key, rest := parts[0], parts[1:]
	switch c := v.(type) {
	case map[string]any:
		old, ok := c[key]
		switch {
		case len(rest) > 0 && ok:
			c[key] = editJSON(ts, old, rest, val, del)
		case len(rest) > 0 || (del && !ok):
			ts.Fatalf("no key %q", key)
		case del:
			delete(c, key)
		default:
			c[key] = val
		}
		return c
	case []any:
		n, err := strconv.Atoi(key)
		if err != nil || n < 0 || n >= len(c) {
			ts.Fatalf("no index %q (%d elements)", key, len(c))
		}
		switch {
		case len(rest) > 0:
			c[n] = editJSON(ts, c[n], rest, val, del)
		case del:
			return append(c[:n:n], c[n+1:]...)
		default:
			c[n] = val
		}
		return c
	}
	ts.Fatalf("cannot look up %q in a JSON %T", key, v)
	return nil
}

// jsonset FILE PATH VALUE
//
// Sets the value at PATH (its parent must exist) in the JSON file FILE and
// rewrites it. VALUE is read as JSON if it parses, else as a string.
func cmdJSONSet(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "jsonset")
	if len(args) != 3 {
		ts.Fatalf("usage: jsonset FILE PATH VALUE")
	}
	var val any = args[2]
	dec := json.NewDecoder(strings.NewReader(args[2]))
	dec.UseNumber()
	var parsed any
	if err := dec.Decode(&parsed); err == nil && !dec.More() {
		val = parsed
	}
	writeJSON(ts, args[0], editJSON(ts, readJSON(ts, args[0]), splitJSONPath(ts, args[1]), val, false))
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
	noNeg(ts, neg, "mkweights")
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

// sha256 FILE
//
// Prints the SHA-256 of FILE in hex.
func cmdSHA256(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "sha256")
	if len(args) != 1 {
		ts.Fatalf("usage: sha256 FILE")
	}
	sum := sha256.Sum256([]byte(ts.ReadFile(args[0])))
	fmt.Fprintln(ts.Stdout(), hex.EncodeToString(sum[:]))
}
