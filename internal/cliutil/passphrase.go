package cliutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/term"
)

// PassphraseTries is how many times a passphrase typed on a terminal is
// asked for: a new one whose confirmation differs, or one that turns out
// wrong when a key is decrypted (see Wrong).
const PassphraseTries = 3

// Prompter asks the person at a terminal. The controlling terminal is
// the default one; tests inject their own.
type Prompter interface {
	// ReadPassword shows prompt and reads one line without echo.
	ReadPassword(prompt string) ([]byte, error)
	// Say shows one line.
	Say(line string)
}

// ttyPrompter is the controlling terminal, opened for each question.
type ttyPrompter struct{}

func openTTY() (*os.File, bool) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, false
	}
	if !term.IsTerminal(int(tty.Fd())) {
		tty.Close()
		return nil, false
	}
	return tty, true
}

func (ttyPrompter) ReadPassword(prompt string) ([]byte, error) {
	tty, ok := openTTY()
	if !ok {
		return nil, errors.New("no terminal to ask on")
	}
	defer tty.Close()
	fmt.Fprintf(tty, "%s: ", prompt)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	return b, err
}

// PINPrompt asks for a PIN (a PKCS#11 user PIN: keys.Dir.PIN) on the
// controlling terminal, as "Enter PURPOSE: ". It is the last source of a
// PIN, never a flag value; an empty PIN is refused.
func PINPrompt(purpose string, _ bool) ([]byte, error) {
	pin, err := ttyPrompter{}.ReadPassword("Enter " + purpose)
	if err != nil {
		return nil, err
	}
	if len(pin) == 0 {
		return nil, errors.New("empty PIN")
	}
	return pin, nil
}

func (ttyPrompter) Say(line string) {
	if tty, ok := openTTY(); ok {
		fmt.Fprintln(tty, line)
		tty.Close()
	}
}

// prompter is the injected terminal, else the controlling one if there
// is one.
func (p *Passphrases) prompter() (Prompter, bool) {
	if p.TTY != nil {
		return p.TTY, true
	}
	tty, ok := openTTY()
	if ok {
		tty.Close()
	}
	return ttyPrompter{}, ok
}

// ask reads a passphrase on the terminal; with confirm, twice, asking
// again (PassphraseTries in all) while the two differ.
func (p *Passphrases) ask(purpose string, confirm bool) ([]byte, error) {
	tty, ok := p.prompter()
	if !ok {
		return nil, fmt.Errorf("%w for %s: set %s, use --passphrase-file, or run on a terminal", ErrNoPassphrase, purpose, p.EnvVar)
	}
	for try := 1; ; try++ {
		pass, err := tty.ReadPassword("Passphrase for " + purpose)
		if err != nil {
			return nil, err
		}
		if len(pass) == 0 {
			return nil, errors.New("empty passphrase")
		}
		if !confirm {
			return pass, nil
		}
		again, err := tty.ReadPassword("Repeat passphrase for " + purpose)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(pass, again) {
			return pass, nil
		}
		if try == PassphraseTries {
			return nil, fmt.Errorf("passphrases for %s do not match (%d tries)", purpose, PassphraseTries)
		}
		tty.Say(fmt.Sprintf("Passphrases do not match; try again (%d of %d).", try+1, PassphraseTries))
	}
}

// Interactive reports whether the next passphrase will be typed on a
// terminal: neither a passphrase file nor the environment variable gives
// it.
func (p *Passphrases) Interactive() bool {
	if p.File != "" {
		return false
	}
	if _, ok := os.LookupEnv(p.EnvVar); ok {
		return false
	}
	_, ok := p.prompter()
	return ok
}

// Wrong is called when the passphrase given at try (1, 2, ...) did not
// decrypt a key (err says which). Typed on a terminal, before the last
// try, it says so there and returns nil: ask again. Otherwise it returns
// the error to fail with, which names where the passphrase came from (a
// file or the environment variable never gives another one).
func (p *Passphrases) Wrong(err error, try int) error {
	switch {
	case p.File != "":
		return fmt.Errorf("%w (from --passphrase-file %s)", err, p.File)
	case !p.Interactive():
		return fmt.Errorf("%w (from %s)", err, p.EnvVar)
	case try >= PassphraseTries:
		return fmt.Errorf("%w (%d tries)", err, try)
	}
	tty, _ := p.prompter()
	tty.Say(fmt.Sprintf("%s; try again (%d of %d).", OneLine(err), try+1, PassphraseTries))
	return nil
}
