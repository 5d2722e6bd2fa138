// Package pkcs11tok is the PKCS#11 plumbing shared by the signing keys of
// package keys (mrepo) and the device keys of package devicekey
// (mclient): RFC 7512 URIs, where the module and the user PIN come from,
// and (in cgo builds) one loaded module and one logged-in session per
// token for the life of the process.
package pkcs11tok

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/edgetuf/edgetuf/internal/fileperm"
)

// PINEnv is the environment variable a PKCS#11 user PIN is read from when
// the reference has no pin-source.
const PINEnv = "EDGETUF_PKCS11_PIN"

// ModuleEnv names the PKCS#11 module when a reference has no module-path.
const ModuleEnv = "EDGETUF_PKCS11_MODULE"

// PromptFunc asks for a secret (a user PIN) on a terminal; what says
// which. nil: no prompt.
type PromptFunc = func(what string, confirm bool) ([]byte, error)

// URI is a parsed RFC 7512 PKCS#11 URI naming one key pair:
//
//	pkcs11:token=edgetuf;object=targets-1?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/edgetuf/pin
//
// Path attributes select the token (token, serial, manufacturer, model,
// slot-id) and the key (object = CKA_LABEL, id = CKA_ID, type = private,
// public or absent); at least one token and one key attribute are
// required. Query attributes: module-path (else EDGETUF_PKCS11_MODULE) and
// pin-source (a file whose first line is the user PIN, as "file:PATH" or
// an absolute path; else EDGETUF_PKCS11_PIN, else a terminal prompt).
// pin-value is refused: a reference is stored in the clear.
type URI struct {
	Token, Serial, Manufacturer, Model string
	SlotID                             *uint
	Object                             string // CKA_LABEL
	ID                                 []byte // CKA_ID
	ModulePath                         string
	PINSource                          string // a file
}

// Parse parses and checks a pkcs11: URI.
func Parse(s string) (*URI, error) {
	rest, ok := strings.CutPrefix(s, "pkcs11:")
	if !ok {
		// The scheme is case-insensitive.
		if len(s) < 7 || !strings.EqualFold(s[:7], "pkcs11:") {
			return nil, fmt.Errorf("%q is not a pkcs11: URI", s)
		}
		rest = s[7:]
	}
	path, query, _ := strings.Cut(rest, "?")
	u := &URI{}
	seen := map[string]bool{}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("PKCS#11 URI %q: %s", s, fmt.Sprintf(format, args...))
	}
	if path != "" {
		for _, attr := range strings.Split(path, ";") {
			k, v, ok := strings.Cut(attr, "=")
			if !ok || k == "" {
				return nil, bad("path attribute %q is not NAME=VALUE", attr)
			}
			if seen[k] {
				return nil, bad("attribute %s given twice", k)
			}
			seen[k] = true
			val, err := url.PathUnescape(v)
			if err != nil {
				return nil, bad("attribute %s: %v", k, err)
			}
			switch k {
			case "token":
				u.Token = val
			case "serial":
				u.Serial = val
			case "manufacturer":
				u.Manufacturer = val
			case "model":
				u.Model = val
			case "slot-id":
				n, err := strconv.ParseUint(val, 10, 32)
				if err != nil {
					return nil, bad("slot-id %q is not a number", val)
				}
				id := uint(n)
				u.SlotID = &id
			case "object":
				u.Object = val
			case "id":
				if val == "" {
					return nil, bad("empty id")
				}
				u.ID = []byte(val)
			case "type":
				if val != "private" && val != "public" {
					return nil, bad("type %q: a key pair is named by its private (or public) object", val)
				}
			case "library-manufacturer", "library-description", "library-version", "slot-description", "slot-manufacturer":
				// Informational; the module is chosen by module-path.
			case "pin-value":
				return nil, bad("pin-value is not allowed: the reference is stored in the clear; use pin-source=file:PATH or %s", PINEnv)
			default:
				if !strings.HasPrefix(k, "x-") {
					return nil, bad("unknown path attribute %q", k)
				}
			}
		}
	}
	if query != "" {
		for _, attr := range strings.Split(query, "&") {
			k, v, ok := strings.Cut(attr, "=")
			if !ok || k == "" {
				return nil, bad("query attribute %q is not NAME=VALUE", attr)
			}
			if seen["?"+k] {
				return nil, bad("attribute %s given twice", k)
			}
			seen["?"+k] = true
			val, err := url.PathUnescape(v)
			if err != nil {
				return nil, bad("attribute %s: %v", k, err)
			}
			switch k {
			case "module-path":
				if !filepath.IsAbs(val) {
					return nil, bad("module-path %q is not an absolute path", val)
				}
				u.ModulePath = val
			case "pin-source":
				p, ok := strings.CutPrefix(val, "file:")
				if ok {
					// file:///abs/path or file:/abs/path
					p = strings.TrimPrefix(p, "//")
				}
				if !filepath.IsAbs(p) {
					return nil, bad("pin-source %q: want file:/ABSOLUTE/PATH", val)
				}
				u.PINSource = p
			case "pin-value":
				return nil, bad("pin-value is not allowed: the reference is stored in the clear; use pin-source=file:PATH or %s", PINEnv)
			case "module-name":
				return nil, bad("module-name is not supported: give module-path (or set %s)", ModuleEnv)
			default:
				if !strings.HasPrefix(k, "x-") {
					return nil, bad("unknown query attribute %q", k)
				}
			}
		}
	}
	if u.Token == "" && u.Serial == "" && u.SlotID == nil {
		return nil, bad("no token: give token=LABEL, serial= or slot-id=")
	}
	if u.Object == "" && u.ID == nil {
		return nil, bad("no key: give object=LABEL or id=")
	}
	return u, nil
}

// Module returns the PKCS#11 module to load: an absolute path to a file
// that, like its directory, group and others cannot write (a module is a
// shared library run inside the process, with its keys).
func (u *URI) Module() (string, error) {
	m := u.ModulePath
	if m == "" {
		m = os.Getenv(ModuleEnv)
		if m == "" {
			return "", fmt.Errorf("no PKCS#11 module: add module-path=/path/to/module.so to the reference or set %s", ModuleEnv)
		}
		if !filepath.IsAbs(m) {
			return "", fmt.Errorf("%s=%q is not an absolute path", ModuleEnv, m)
		}
	}
	for _, c := range []struct{ path, what string }{{m, "PKCS#11 module"}, {filepath.Dir(m), "directory of the PKCS#11 module"}} {
		fi, err := os.Stat(c.path)
		if err != nil {
			return "", fmt.Errorf("PKCS#11 module: %w", err)
		}
		if err := fileperm.NotWritable(fi, c.path, c.what); err != nil {
			return "", err
		}
	}
	return m, nil
}

// Describe names the key for messages.
func (u *URI) Describe() string {
	tok := u.Token
	if tok == "" {
		tok = "serial " + u.Serial
	}
	if u.Token == "" && u.Serial == "" {
		tok = fmt.Sprintf("slot %d", *u.SlotID)
	}
	key := u.Object
	if key == "" {
		key = fmt.Sprintf("id %x", u.ID)
	}
	return fmt.Sprintf("key %q in PKCS#11 token %q", key, tok)
}

// PIN returns the user PIN: from pin-source, else PINEnv, else prompt.
func (u *URI) PIN(prompt PromptFunc, tokenLabel string) (string, error) {
	if u.PINSource != "" {
		data, err := fileperm.ReadSecret(u.PINSource, "PIN source", maxSecretFile, false)
		if err != nil {
			return "", err
		}
		line, _, _ := strings.Cut(string(data), "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			return "", fmt.Errorf("PIN source %s: first line is empty", u.PINSource)
		}
		return line, nil
	}
	if v, ok := os.LookupEnv(PINEnv); ok {
		if v == "" {
			return "", fmt.Errorf("%s is set but empty", PINEnv)
		}
		return v, nil
	}
	if prompt == nil {
		return "", errNoPIN(tokenLabel)
	}
	p, err := prompt(fmt.Sprintf("the user PIN of PKCS#11 token %q", tokenLabel), false)
	if err != nil {
		return "", fmt.Errorf("%w (%v)", errNoPIN(tokenLabel), err)
	}
	return string(p), nil
}

func errNoPIN(token string) error {
	return errors.New("no PIN for PKCS#11 token " + strconv.Quote(token) + ": add pin-source=file:PATH to the reference, set " + PINEnv + ", or run on a terminal")
}

// maxSecretFile bounds a PIN or passphrase file: one line is used.
const maxSecretFile = 64 << 10

// OIDP256 is CKA_EC_PARAMS's curve for NIST P-256 (as DER: asn1.Marshal).
var OIDP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}

// ECPoint returns the bare point of a CKA_EC_POINT value: a DER OCTET
// STRING holding it, which some tokens leave out.
func ECPoint(v []byte) []byte {
	var inner []byte
	if rest, err := asn1.Unmarshal(v, &inner); err == nil && len(rest) == 0 {
		return inner
	}
	return v
}
