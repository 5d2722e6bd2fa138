package main

import (
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/internal/scripttest"
	"github.com/rogpeppe/go-internal/testscript"
)

// The commands below, with the generic ones of internal/scripttest
// (shared with cmd/mclient's scripts), let the scripts in testdata/ do
// what a user (or an attacker) does to a repository by hand: edit JSON,
// flip a byte, copy a tree, fetch over HTTP. Each one fails the script
// with a clear message when used wrongly.
func init() {
	for name, cmd := range map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"filemode": cmdFilemode,
		"jsondel":  cmdJSONDel,
		"jsontime": cmdJSONTime,
	} {
		scriptCmds[name] = cmd
	}
}

// scriptCondition adds conditions for the scripts:
//
//	tty  the test process has a controlling terminal (/dev/tty opens), so
//	     a command without a passphrase source would prompt on it.
func scriptCondition(cond string) (bool, error) {
	switch cond {
	case "tty":
		f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err != nil {
			return false, nil
		}
		f.Close()
		return true, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

// filemode PERM FILE...
//
// Checks that each FILE's permission bits are exactly PERM (octal).
func cmdFilemode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: filemode PERM FILE...")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	ts.Check(err)
	for _, f := range args[1:] {
		fi, err := os.Lstat(ts.MkAbs(f))
		ts.Check(err)
		got := fi.Mode().Perm()
		switch {
		case !neg && got != fs.FileMode(want):
			ts.Fatalf("%s has mode %04o, want %04o", f, got, want)
		case neg && got == fs.FileMode(want):
			ts.Fatalf("%s has mode %04o", f, got)
		}
	}
}

// jsondel FILE PATH
//
// Deletes the object key or array element at PATH from the JSON file FILE.
func cmdJSONDel(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "jsondel")
	if len(args) != 2 {
		ts.Fatalf("usage: jsondel FILE PATH")
	}
	scripttest.WriteJSON(ts, args[0], scripttest.EditJSON(ts, scripttest.ReadJSON(ts, args[0]), scripttest.SplitJSONPath(ts, args[1]), nil, true))
}

// jsontime FILE PATH MIN MAX
//
// Checks that the RFC 3339 time at PATH in FILE lies between now+MIN and
// now+MAX (durations as mrepo reads them: 90m, 24h, 7d; may be negative).
func cmdJSONTime(ts *testscript.TestScript, neg bool, args []string) {
	scripttest.NoNeg(ts, neg, "jsontime")
	if len(args) != 4 {
		ts.Fatalf("usage: jsontime FILE PATH MIN MAX")
	}
	s, ok := scripttest.WalkJSON(ts, scripttest.ReadJSON(ts, args[0]), scripttest.SplitJSONPath(ts, args[1])).(string)
	if !ok {
		ts.Fatalf("%s is not a string", args[1])
	}
	t, err := time.Parse(time.RFC3339, s)
	ts.Check(err)
	dur := func(s string) time.Duration {
		sign := time.Duration(1)
		if rest, ok := strings.CutPrefix(s, "-"); ok {
			s, sign = rest, -1
		}
		d, err := duration.Parse(s)
		ts.Check(err)
		return sign * d
	}
	now := time.Now()
	lo, hi := now.Add(dur(args[2])), now.Add(dur(args[3]))
	if t.Before(lo) || t.After(hi) {
		ts.Fatalf("%s is %s, not between now + %s and now + %s", args[1], s, dur(args[2]), dur(args[3]))
	}
}
