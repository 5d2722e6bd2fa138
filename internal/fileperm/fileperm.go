// Package fileperm refuses key material that other users could read or
// replace, as ssh refuses an unprotected private key: the checks look at
// the permission bits only, so they hold for every user, root included
// (root ignores permissions, but the bits still say who else could have
// changed or read the file).
package fileperm

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
)

// ErrInsecure marks a file or directory whose permissions let group or
// others read a secret or change what is trusted.
var ErrInsecure = errors.New("insecure permissions")

// Secret fails unless the file at path (described by fi) gives group and
// others no access at all: private keys, passphrase and PIN files. what
// names it in the message ("private key", "passphrase file").
func Secret(fi fs.FileInfo, path, what string) error {
	if skip() {
		return nil
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("%w: %s %s has mode %04o: it must not be readable or writable by group or others (fix: chmod 600 %s)", ErrInsecure, what, path, m, path)
	}
	return nil
}

// NotWritable fails if group or others may write the file or directory
// at path (described by fi): public keys, key references, key
// directories and PKCS#11 modules, which decide what mrepo trusts and
// loads.
func NotWritable(fi fs.FileInfo, path, what string) error {
	if skip() {
		return nil
	}
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		fix := "chmod go-w " + path
		if fi.IsDir() {
			fix = "chmod 700 " + path
		}
		return fmt.Errorf("%w: %s %s has mode %04o: it must not be writable by group or others (fix: %s)", ErrInsecure, what, path, m, fix)
	}
	return nil
}

// skip: Windows has no such permission bits (its ACLs are not checked).
func skip() bool { return runtime.GOOS == "windows" }
