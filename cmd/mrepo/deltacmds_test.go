package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/edgetuf/edgetuf/internal/modelpairs"
	"github.com/edgetuf/edgetuf/internal/scripttest"
	"github.com/rogpeppe/go-internal/testscript"
)

// Commands that make model-like files for the delta scripts: random
// weights, and a "fine-tuned" copy of them.
func init() {
	scriptCmds["genfile"] = cmdGenfile
	scriptCmds["mutate"] = cmdMutate
	scriptCmds["genhalves"] = cmdGenhalves
	scriptCmds["truncate"] = cmdTruncate
}

// genfile FILE SIZE SEED
//
// Writes SIZE pseudo-random bytes to FILE (creating its directory), the
// same bytes for the same SEED: model weights that do not compress.
func cmdGenfile(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "genfile")
	if len(args) != 3 {
		ts.Fatalf("usage: genfile FILE SIZE SEED")
	}
	size, err := strconv.Atoi(args[1])
	ts.Check(err)
	seed, err := strconv.ParseUint(args[2], 10, 64)
	ts.Check(err)
	if size < 0 || size > 64<<20 {
		ts.Fatalf("genfile: size %d out of range", size)
	}
	data := make([]byte, size)
	var key [32]byte
	for i := 0; i < 8; i++ {
		key[i] = byte(seed >> (8 * i))
	}
	rand.NewChaCha8(key).Read(data)
	name := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(name), 0o755))
	ts.Check(os.WriteFile(name, data, 0o644))
}

// mutate SRC DST SEED
//
// Writes to DST (creating its directory) a copy of SRC with about one byte
// in a hundred changed, at places chosen by SEED: the weights of a model
// retrained a little, of the same length.
func cmdMutate(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "mutate")
	if len(args) != 3 {
		ts.Fatalf("usage: mutate SRC DST SEED")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	seed, err := strconv.ParseUint(args[2], 10, 64)
	ts.Check(err)
	if len(data) == 0 {
		ts.Fatalf("mutate: %s is empty", args[0])
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i <= len(data)/100; i++ {
		data[rng.IntN(len(data))] ^= byte(1 + rng.IntN(255))
	}
	name := ts.MkAbs(args[1])
	ts.Check(os.MkdirAll(filepath.Dir(name), 0o755))
	ts.Check(os.WriteFile(name, data, 0o644))
}

// truncate FILE SIZE
//
// Cuts FILE to its first SIZE bytes.
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "truncate")
	if len(args) != 2 {
		ts.Fatalf("usage: truncate FILE SIZE")
	}
	size, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	if size < 0 || size > fi.Size() {
		ts.Fatalf("truncate: %s has %d bytes, cannot cut to %d", args[0], fi.Size(), size)
	}
	ts.Check(os.Truncate(ts.MkAbs(args[0]), size))
}

// genhalves FILE N SEED
//
// Writes N fp16 weights (2N bytes) to FILE, modelpairs.RetrainedHalves:
// two seeds give two unrelated versions of a small retrained model, whose
// weights Diff codes with adaptive blocks unless --fast-apply.
func cmdGenhalves(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "genhalves")
	if len(args) != 3 {
		ts.Fatalf("usage: genhalves FILE N SEED")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	seed, err := strconv.ParseUint(args[2], 10, 64)
	ts.Check(err)
	if n < 0 || n > 8<<20 {
		ts.Fatalf("genhalves: %d weights out of range", n)
	}
	data := modelpairs.RetrainedHalves(seed, n)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), data, 0o644))
}
