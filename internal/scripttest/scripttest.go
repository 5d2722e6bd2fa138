// Package scripttest holds the custom commands shared by the testscript
// suites of the command-line tools (cmd/mrepo, cmd/mclient): what a user,
// or an attacker, does by hand to a repository or a device besides running
// the tools: capture output, check an exit status, flip a byte, copy and
// fingerprint a tree, read and edit JSON metadata. It is test support only,
// imported by _test.go files; each suite merges Commands with its own.
package scripttest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Commands returns the shared commands by name, in a new map to which the
// caller may add its own. Each one fails the script with a clear message
// when used wrongly.
func Commands() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"capture":  cmdCapture,
		"cpdir":    cmdCpdir,
		"exits":    cmdExits,
		"flipbyte": cmdFlipbyte,
		"httpget":  cmdHTTPGet,
		"jsonget":  cmdJSONGet,
		"jsonset":  cmdJSONSet,
		"sha256":   cmdSHA256,
		"treesum":  cmdTreesum,
		"waitfile": cmdWaitfile,
	}
}

// NoNeg fails the script when the command name is used negated (! name):
// for commands that have no meaningful negation.
func NoNeg(ts *testscript.TestScript, neg bool, name string) {
	if neg {
		ts.Fatalf("unsupported: ! %s", name)
	}
}

// exits CODE PROG [ARGS...]
//
// Runs PROG like exec and requires exit status CODE; stdout and stderr are
// then available to stdout/stderr as after exec.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	NoNeg(ts, neg, "exits")
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
	NoNeg(ts, neg, "capture")
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

// sha256 FILE
//
// Prints the SHA-256 of FILE in hex.
func cmdSHA256(ts *testscript.TestScript, neg bool, args []string) {
	NoNeg(ts, neg, "sha256")
	if len(args) != 1 {
		ts.Fatalf("usage: sha256 FILE")
	}
	sum := sha256.Sum256([]byte(ts.ReadFile(args[0])))
	fmt.Fprintln(ts.Stdout(), hex.EncodeToString(sum[:]))
}

// flipbyte FILE OFFSET
//
// Inverts the lowest bit of the byte at OFFSET (negative: from the end).
func cmdFlipbyte(ts *testscript.TestScript, neg bool, args []string) {
	NoNeg(ts, neg, "flipbyte")
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
	NoNeg(ts, neg, "cpdir")
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
	NoNeg(ts, neg, "treesum")
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
// Waits until FILE exists and is not empty (a background command wrote
// it). It gives up after two minutes, which only a broken script reaches:
// a loaded machine only makes the wait longer.
func cmdWaitfile(ts *testscript.TestScript, neg bool, args []string) {
	NoNeg(ts, neg, "waitfile")
	if len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	name := ts.MkAbs(args[0])
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if fi, err := os.Stat(name); err == nil && fi.Size() > 0 {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not appear within two minutes", args[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
