// Package cliutil holds what the mrepo and mclient commands share:
// passphrase sources (and prompts that ask again), one-line error
// reporting, JSON output, the logging flags (log/slog on stderr), and
// progress: bars on terminals, log records elsewhere.
package cliutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/edgetuf/edgetuf/internal/fileperm"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Passphrases reads passphrases from, in order of precedence, a file, an
// environment variable, or the controlling terminal. Passphrases are never
// taken from a flag value: flags end up in shell history and process lists.
type Passphrases struct {
	File   string // --passphrase-file
	EnvVar string // e.g. MREPO_PASSPHRASE
	Stderr io.Writer
	// TTY asks on a terminal (nil: the controlling terminal, /dev/tty).
	// Tests inject their own.
	TTY Prompter
}

// ErrNoPassphrase is returned when no source can supply a passphrase.
var ErrNoPassphrase = errors.New("no passphrase source")

// Get returns a passphrase for purpose. With confirm, a terminal prompt
// asks twice, and asks again (PassphraseTries in all) when the two differ.
func (p *Passphrases) Get(purpose string, confirm bool) ([]byte, error) {
	if p.File != "" {
		// Like a private key (ssh's rule): a passphrase file that group or
		// others may read or write is refused, before it is read; and only
		// its first line is used, so a bounded read is enough.
		f, err := os.Open(p.File)
		if err != nil {
			return nil, fmt.Errorf("passphrase file: %w", err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("passphrase file: %w", err)
		}
		if err := fileperm.Secret(fi, p.File, "passphrase file"); err != nil {
			return nil, err
		}
		const maxPassphraseFile = 64 << 10
		data, err := io.ReadAll(io.LimitReader(f, maxPassphraseFile+1))
		if err != nil {
			return nil, fmt.Errorf("passphrase file: %w", err)
		}
		if len(data) > maxPassphraseFile && !bytes.Contains(data, []byte("\n")) {
			return nil, fmt.Errorf("passphrase file %s: first line is longer than %d bytes", p.File, maxPassphraseFile)
		}
		line, _, _ := bytes.Cut(data, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return nil, fmt.Errorf("passphrase file %s: first line is empty", p.File)
		}
		return line, nil
	}
	if v, ok := os.LookupEnv(p.EnvVar); ok {
		if v == "" {
			return nil, fmt.Errorf("%s is set but empty", p.EnvVar)
		}
		return []byte(v), nil
	}
	return p.ask(purpose, confirm)
}

// OneLine flattens an error message to a single line.
func OneLine(err error) string {
	s := err.Error()
	s = strings.ReplaceAll(s, "\r", " ")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// WriteJSON writes v as indented JSON followed by a newline.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Progress returns a callback drawing a byte progress bar on w when w is a
// terminal, and nil otherwise (so scripts and logs stay clean).
func Progress(w io.Writer) func(name string, done, total int64) {
	if !IsTerminal(w) {
		return nil
	}
	var bar *progressbar.ProgressBar
	var current string
	return func(name string, done, total int64) {
		if name != current || bar == nil {
			if bar != nil {
				bar.Finish()
			}
			current = name
			bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetDescription(name),
				progressbar.OptionThrottle(100_000_000),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
			)
		}
		bar.Set64(done)
	}
}

// HumanBytes formats a byte count with binary units.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
