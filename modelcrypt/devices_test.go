package modelcrypt

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newDeviceRecipient(t testing.TB) (*ecdh.PrivateKey, string) {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Recipient(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return k, r
}

func TestParseDevices(t *testing.T) {
	_, a := newDeviceRecipient(t)
	_, b := newDeviceRecipient(t)
	in := "# fleet of two\n\n" + a + "  kitchen camera 1\r\n\t" + b + "\n" + a + " duplicate\n   # indented comment\n"
	ds, err := ParseDevices(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Recipient.String() != a || ds[0].Label != "kitchen camera 1" || ds[1].Recipient.String() != b || ds[1].Label != "" {
		t.Fatalf("got %+v", ds)
	}
	if ds, err := ParseDevices(strings.NewReader(b + "\tlabel\twith tab\n")); err != nil || ds[0].Label != "label\twith tab" {
		t.Fatalf("tab separator: %+v %v", ds, err)
	}
	for name, bad := range map[string]string{
		"not a recipient":  "hello\n",
		"x25519 recipient": "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n",
		"bad checksum":     a[:len(a)-1] + "q\n",
		"invalid utf-8":    a + " \xff\n",
		"control char":     a + " bell\a\n",
		"long line":        a + " " + strings.Repeat("x", MaxDevicesLine) + "\n",
	} {
		if _, err := ParseDevices(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if ds, err := ParseDevices(strings.NewReader("")); err != nil || len(ds) != 0 {
		t.Fatalf("empty file: %v %v", ds, err)
	}
}

func TestRecipientKeyInvertsRecipient(t *testing.T) {
	for range 20 {
		k, r := newDeviceRecipient(t)
		rc, err := ParseRecipient(r)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := RecipientKey(rc)
		if err != nil {
			t.Fatal(err)
		}
		if !pub.Equal(k.PublicKey()) {
			t.Fatal("RecipientKey does not return the recipient's key")
		}
	}
}

// hkdfByHand is RFC 5869 written out, to check Proof against.
func hkdfByHand(secret, salt, info []byte) []byte {
	ext := hmac.New(sha256.New, salt)
	ext.Write(secret)
	exp := hmac.New(sha256.New, ext.Sum(nil))
	exp.Write(info)
	exp.Write([]byte{1})
	return exp.Sum(nil)
}

func TestProof(t *testing.T) {
	shared := bytes.Repeat([]byte{7}, 32)
	nonce := bytes.Repeat([]byte{9}, 32)
	m := hmac.New(sha256.New, hkdfByHand(shared, nonce, []byte("edgetuf keyserver v1")))
	m.Write([]byte("edgetuf keyserver v1\ncid\ndet\n1.0.0\nage1tag1x"))
	got := Proof(shared, nonce, "cid", "det", "1.0.0", "age1tag1x")
	if !bytes.Equal(got, m.Sum(nil)) {
		t.Fatal("Proof is not HMAC-SHA256(HKDF-SHA256(shared, nonce, label), transcript)")
	}
	for name, p := range map[string][]byte{
		"shared":    Proof(bytes.Repeat([]byte{8}, 32), nonce, "cid", "det", "1.0.0", "age1tag1x"),
		"nonce":     Proof(shared, bytes.Repeat([]byte{8}, 32), "cid", "det", "1.0.0", "age1tag1x"),
		"challenge": Proof(shared, nonce, "cie", "det", "1.0.0", "age1tag1x"),
		"model":     Proof(shared, nonce, "cid", "deu", "1.0.0", "age1tag1x"),
		"version":   Proof(shared, nonce, "cid", "det", "1.0.1", "age1tag1x"),
		"device":    Proof(shared, nonce, "cid", "det", "1.0.0", "age1tag1y"),
	} {
		if bytes.Equal(p, got) {
			t.Errorf("changing the %s leaves the proof unchanged", name)
		}
	}
}

func FuzzParseDevices(f *testing.F) {
	_, a := newDeviceRecipient(f)
	for _, s := range []string{"", "# c\n", a + "\n", a + " label\n" + a + "\n", "age1tag1\n", a + "\t\xff\n", "\n\n\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := ParseDevices(bytes.NewReader(data))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, d := range ds {
			s := d.Recipient.String()
			if seen[s] || strings.ContainsAny(d.Label, "\n\r") {
				t.Fatalf("bad result %q", s)
			}
			seen[s] = true
			if _, err := RecipientKey(d.Recipient); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestReadDevicesAndRecipientFile(t *testing.T) {
	_, a := newDeviceRecipient(t)
	_, b := newDeviceRecipient(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	two := write("two", "# fleet\n"+a+" first\n"+b+"\n")
	if ds, err := ReadDevicesFile(two, 1<<10); err != nil || len(ds) != 2 || ds[1].Recipient.String() != b {
		t.Fatalf("ReadDevicesFile: %+v %v", ds, err)
	}
	if r, err := ReadRecipientFile(two); err != nil || r.String() != a {
		t.Fatalf("ReadRecipientFile: %v %v", r, err)
	}
	if _, err := ReadRecipientFile(write("none", "# nothing here\n\n")); err == nil || !strings.Contains(err.Error(), "holds no recipient") {
		t.Errorf("a file without a recipient: %v", err)
	}
	if _, err := ReadDevicesFile(write("bad", a+"\nhello\n"), 1<<10); err == nil || !strings.Contains(err.Error(), "bad: devices line 2") {
		t.Errorf("a bad line: %v", err)
	}
	// A file over the bound, valid all along (comments), is refused.
	big := write("big", strings.Repeat("# "+strings.Repeat("x", 1021)+"\n", 4))
	if _, err := ReadDevicesFile(big, 4<<10); err != nil {
		t.Errorf("a file at the bound: %v", err)
	}
	if _, err := ReadDevicesFile(big, 4<<10-1); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a file over the bound: %v", err)
	}
	if _, err := ReadRecipientFile(write("long", strings.Repeat("# "+strings.Repeat("x", 1021)+"\n", 64)+a+"\n")); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a recipient file over 64 KiB: %v", err)
	}
}
