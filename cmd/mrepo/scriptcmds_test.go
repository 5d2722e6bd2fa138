package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/repo"
	"github.com/rogpeppe/go-internal/testscript"
)

// The commands below let the scripts in testdata/ do what a user (or an
// attacker) does to a repository by hand: edit JSON, flip a byte, copy a
// tree, fetch over HTTP. Each one fails the script with a clear message
// when used wrongly.
func init() {
	for name, cmd := range map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"capture":  cmdCapture,
		"cpdir":    cmdCpdir,
		"exits":    cmdExits,
		"filemode": cmdFilemode,
		"flipbyte": cmdFlipbyte,
		"httpget":  cmdHTTPGet,
		"jsondel":  cmdJSONDel,
		"jsonget":  cmdJSONGet,
		"jsonset":  cmdJSONSet,
		"jsontime": cmdJSONTime,
		"sha256":   cmdSHA256,
		"treesum":  cmdTreesum,
		"waitfile": cmdWaitfile,
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

// httpget [-head] [-range FIRST-LAST] URL [OUTFILE]
//
// Fetches URL (loopback only) and prints the status code and the response
// headers, one "Name: value" per line (sorted, without Date), to stdout;
// the body goes to OUTFILE if given. Redirects are not followed. -head
// sends HEAD instead of GET; -range asks for a byte range.
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "httpget")
	method, rng := http.MethodGet, ""
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-head":
			method = http.MethodHead
			args = args[1:]
		case "-range":
			if len(args) < 2 {
				ts.Fatalf("-range needs FIRST-LAST")
			}
			rng, args = "bytes="+args[1], args[2:]
		default:
			ts.Fatalf("unknown flag %s", args[0])
		}
	}
	if len(args) != 1 && len(args) != 2 {
		ts.Fatalf("usage: httpget [-head] [-range FIRST-LAST] URL [OUTFILE]")
	}
	req, err := http.NewRequest(method, args[0], nil)
	ts.Check(err)
	if h := req.URL.Hostname(); h != "127.0.0.1" && h != "::1" && h != "localhost" {
		ts.Fatalf("httpget only fetches from loopback, not %s", h)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	ts.Check(err)
	w := ts.Stdout()
	fmt.Fprintf(w, "status %d\n", resp.StatusCode)
	var names []string
	for k := range resp.Header {
		if k != "Date" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "%s: %s\n", k, strings.Join(resp.Header.Values(k), ", "))
	}
	if len(args) == 2 {
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), body, 0o644))
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

// jsondel FILE PATH
//
// Deletes the object key or array element at PATH from the JSON file FILE.
func cmdJSONDel(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "jsondel")
	if len(args) != 2 {
		ts.Fatalf("usage: jsondel FILE PATH")
	}
	writeJSON(ts, args[0], editJSON(ts, readJSON(ts, args[0]), splitJSONPath(ts, args[1]), nil, true))
}

// jsontime FILE PATH MIN MAX
//
// Checks that the RFC 3339 time at PATH in FILE lies between now+MIN and
// now+MAX (durations as mrepo reads them: 90m, 24h, 7d; may be negative).
func cmdJSONTime(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "jsontime")
	if len(args) != 4 {
		ts.Fatalf("usage: jsontime FILE PATH MIN MAX")
	}
	s, ok := walkJSON(ts, readJSON(ts, args[0]), splitJSONPath(ts, args[1])).(string)
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
		d, err := repo.ParseDuration(s)
		ts.Check(err)
		return sign * d
	}
	now := time.Now()
	lo, hi := now.Add(dur(args[2])), now.Add(dur(args[3]))
	if t.Before(lo) || t.After(hi) {
		ts.Fatalf("%s is %s, not between now + %s and now + %s", args[1], s, dur(args[2]), dur(args[3]))
	}
}
