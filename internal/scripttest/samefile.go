package scripttest

import (
	"os"

	"github.com/rogpeppe/go-internal/testscript"
)

// samefile A B
//
// Checks that A and B are one file (hard links to the same inode);
// negated, that they are two.
func CmdSamefile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: samefile A B")
	}
	a, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	b, err := os.Stat(ts.MkAbs(args[1]))
	ts.Check(err)
	if same := os.SameFile(a, b); same == neg {
		ts.Fatalf("%s and %s: same file = %v", args[0], args[1], same)
	}
}
