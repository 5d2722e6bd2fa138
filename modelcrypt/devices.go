package modelcrypt

import (
	"bufio"
	"crypto/ecdh"
	"crypto/elliptic"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"filippo.io/age/tag"
)

// Device is one enrolled device of a devices file: its recipient (the
// public half of its device key, "age1tag1...") and the operator's label
// for it ("" if none).
type Device struct {
	Recipient *tag.Recipient
	Label     string
}

// MaxDevicesLine bounds one line of a devices file.
const MaxDevicesLine = 1024

// ParseDevices reads a devices file: UTF-8 text, one device per line, its
// recipient ("age1tag1...") optionally followed by whitespace and a label;
// lines whose first non-blank character is '#' and blank lines are
// ignored. A device listed twice counts once (its first line's label).
// Anything else (an invalid recipient, a hybrid one, invalid UTF-8, a
// control character, a line over MaxDevicesLine bytes) fails, naming the
// line: the file decides which devices get keys, so nothing in it is
// guessed at.
func ParseDevices(r io.Reader) ([]Device, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), MaxDevicesLine)
	var out []Device
	seen := map[string]bool{}
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("devices line %d: not UTF-8", n)
		}
		if strings.ContainsFunc(line, func(c rune) bool { return unicode.IsControl(c) && c != '\t' && c != '\r' }) {
			return nil, fmt.Errorf("devices line %d: a control character", n)
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		rs, label, _ := strings.Cut(strings.Replace(line, "\t", " ", 1), " ")
		r, err := ParseRecipient(rs)
		if err != nil {
			return nil, fmt.Errorf("devices line %d: %v", n, err)
		}
		key := r.String()
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, Device{Recipient: r, Label: strings.TrimSpace(label)})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("devices file: a line is longer than %d bytes", MaxDevicesLine)
		}
		return nil, fmt.Errorf("devices file: %w", err)
	}
	return out, nil
}

// ReadDevicesFile reads and parses (ParseDevices) the devices file name,
// of at most limit bytes.
func ReadDevicesFile(name string, limit int64) ([]Device, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lr := &io.LimitedReader{R: f, N: limit + 1}
	ds, err := ParseDevices(lr)
	if lr.N == 0 {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ds, nil
}

// ReadRecipientFile reads a recipient from a file in the devices file
// format (a fleet recipient, a label may follow), of at most 64 KiB: its
// first one.
func ReadRecipientFile(name string) (*tag.Recipient, error) {
	ds, err := ReadDevicesFile(name, 64<<10)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("%s holds no recipient", name)
	}
	return ds[0].Recipient, nil
}

// RecipientKey returns the P-256 public key of a device recipient: the
// inverse of Recipient.
func RecipientKey(r *tag.Recipient) (*ecdh.PublicKey, error) {
	if r.Hybrid() {
		return nil, errors.New("a hybrid (post-quantum) tag recipient has no P-256 device key")
	}
	x, y := elliptic.UnmarshalCompressed(elliptic.P256(), r.Bytes())
	if x == nil {
		return nil, errors.New("invalid P-256 point in a device recipient")
	}
	u := make([]byte, 65)
	u[0] = 4
	x.FillBytes(u[1:33])
	y.FillBytes(u[33:])
	return ecdh.P256().NewPublicKey(u)
}
