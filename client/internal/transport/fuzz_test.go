package transport

// Fuzz tests for what the transport parses from outside: HTTP response
// headers and bodies (Content-Range, target and metadata downloads). Each
// checks properties, not only the absence of panics. Seeds are here and in
// testdata/fuzz/.

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func FuzzContentRangeStart(f *testing.F) {
	for _, s := range []string{"bytes 0-99/100", "bytes 100-199/200", "bytes 5-/*", "bytes */100", "bytes -5-9/10",
		"bytes +7-9/10", "Bytes 1-2/3", "bytes 99999999999999999999-1/2", "bytes 1", ""} {
		f.Add(s, int64(3))
	}
	f.Fuzz(func(t *testing.T, v string, start int64) {
		n, ok := contentRangeStart(v)
		if ok {
			rest, found := strings.CutPrefix(v, "bytes ")
			digits, _, dash := strings.Cut(rest, "-")
			want, err := strconv.ParseInt(digits, 10, 64)
			if !found || !dash || err != nil || n != want || n < 0 {
				t.Fatalf("%q: accepted start %d", v, n)
			}
		}
		// Every well-formed header round-trips.
		if start >= 0 {
			h := fmt.Sprintf("bytes %d-%d/%d", start, start+10, start+11)
			if got, ok := contentRangeStart(h); !ok || got != start {
				t.Fatalf("%q: got %d %v", h, got, ok)
			}
		}
	})
}

// fuzzContent is the target the fake servers below serve.
var fuzzContent = func() []byte {
	b := make([]byte, 3000)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}()

func fuzzTarget() *metadata.TargetFiles {
	sum := sha256.Sum256(fuzzContent)
	return &metadata.TargetFiles{Length: int64(len(fuzzContent)), Hashes: metadata.Hashes{"sha256": sum[:]}, Path: "m/1/model.bin"}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func rangeOffset(t *testing.T, req *http.Request) int64 {
	h := req.Header.Get("Range")
	if h == "" {
		return 0
	}
	s, ok := strings.CutPrefix(h, "bytes=")
	s, ok2 := strings.CutSuffix(s, "-")
	n, err := strconv.ParseInt(s, 10, 64)
	if !ok || !ok2 || err != nil || n <= 0 {
		t.Fatalf("client sent Range %q", h)
	}
	return n
}

func response(status int, body []byte, hdr ...string) *http.Response {
	r := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

// FuzzOpenContentRange: whatever a server answers to a ranged request,
// open either fails or returns a body that starts at 0 or at the offset
// asked for, and for an honest server that body holds exactly the bytes
// from there on.
func FuzzOpenContentRange(f *testing.F) {
	f.Add(uint16(206), "", int64(100), uint16(100), false)
	f.Add(uint16(206), "", int64(50), uint16(100), false)
	f.Add(uint16(206), "", int64(150), uint16(100), false)
	f.Add(uint16(206), "bytes x-/3000", int64(0), uint16(100), true)
	f.Add(uint16(200), "", int64(0), uint16(100), false)
	f.Add(uint16(416), "", int64(0), uint16(2999), false)
	f.Add(uint16(404), "", int64(0), uint16(1), false)
	f.Add(uint16(503), "", int64(0), uint16(1), false)
	f.Fuzz(func(t *testing.T, status uint16, garbage string, claimed int64, offset16 uint16, useGarbage bool) {
		offset := int64(offset16) % int64(len(fuzzContent))
		honest := !useGarbage && claimed >= 0 && claimed <= int64(len(fuzzContent))
		d := &Downloader{HTTP: &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
			off := rangeOffset(t, req)
			if off == 0 {
				return response(http.StatusOK, fuzzContent), nil
			}
			if status != http.StatusPartialContent {
				return response(int(status), fuzzContent), nil
			}
			if useGarbage {
				return response(206, fuzzContent[off:], "Content-Range", garbage), nil
			}
			body := []byte{}
			if honest {
				body = fuzzContent[claimed:]
			}
			return response(206, body, "Content-Range", fmt.Sprintf("bytes %d-%d/%d", claimed, len(fuzzContent)-1, len(fuzzContent))), nil
		})}}
		body, start, err := d.open(t.Context(), "http://127.0.0.1/x", offset, startWatchdog(RealAfter, 0, nil))
		if err != nil {
			if c := codes.CodeOf(err); c != codes.Network && c != codes.TargetNotFound {
				t.Fatalf("code %s: %v", c, err)
			}
			return
		}
		defer body.Close()
		if start != 0 && start != offset {
			t.Fatalf("body starts at %d, asked for %d", start, offset)
		}
		rest, _ := io.ReadAll(body)
		if (honest || status != 206 || offset == 0) && !bytes.Equal(rest, fuzzContent[start:]) {
			t.Fatalf("status %d claimed %d offset %d: body from %d does not hold the target's bytes from there", status, claimed, offset, start)
		}
	})
}

// FuzzFetch drives the Downloader against a scripted server (one byte per
// response: honest, cut short, Range ignored, overlong, lying about its
// start, corrupting, failing) with something already staged. Properties:
// success means the staged file is exactly the target; a failure never
// leaves more than the signed length staged and has a transfer code; a
// server that never misbehaves beyond cutting the connection at most
// `retries` times always succeeds, whatever was staged.
func FuzzFetch(f *testing.F) {
	f.Add([]byte{}, byte(0), uint16(0))
	f.Add([]byte{1, 1, 0}, byte(1), uint16(1000))
	f.Add([]byte{9, 17, 2}, byte(2), uint16(1500))
	f.Add([]byte{3}, byte(0), uint16(0))
	f.Add([]byte{4, 0}, byte(1), uint16(10))
	f.Add([]byte{5}, byte(3), uint16(0))
	f.Add([]byte{6, 6, 6, 6}, byte(0), uint16(0))
	f.Add([]byte{7}, byte(0), uint16(0))
	f.Add([]byte{0}, byte(2), uint16(2999))
	f.Add([]byte{1, 9, 17, 25}, byte(1), uint16(5))
	const retries = 3
	f.Fuzz(func(t *testing.T, script []byte, stagedKind byte, stagedLen uint16) {
		tf := fuzzTarget()
		n := int64(len(fuzzContent))
		dest := filepath.Join(t.TempDir(), "model.bin.part")
		switch stagedKind % 4 {
		case 1: // a genuine prefix
			os.WriteFile(dest, fuzzContent[:int64(stagedLen)%(n+1)], 0o600)
		case 2: // a damaged prefix (or whole file)
			p := append([]byte(nil), fuzzContent[:int64(stagedLen)%(n+1)]...)
			if len(p) > 0 {
				p[len(p)/2] ^= 0x10
			}
			os.WriteFile(dest, p, 0o600)
		case 3: // longer than the target
			os.WriteFile(dest, append(append([]byte(nil), fuzzContent...), make([]byte, 1+int(stagedLen)%100)...), 0o600)
		}
		benign, cuts := true, 0
		var sent int64
		i := 0
		rt := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			b := byte(0) // past the script: honest
			if i < len(script) {
				b = script[i]
			}
			i++
			off := rangeOffset(t, req)
			arg := int64(b/8) * 97 % n
			var resp *http.Response
			switch b % 8 {
			case 0: // honest
				if off > 0 {
					resp = response(206, fuzzContent[off:], "Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, n-1, n))
				} else {
					resp = response(200, fuzzContent)
				}
			case 1: // honest, connection cut after arg bytes
				cuts++
				end := min(off+arg, n-1)
				resp = response(206, fuzzContent[off:end], "Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, n-1, n))
				if off == 0 {
					resp.StatusCode = 200
				}
				resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(fuzzContent[off:end]), errReader{io.ErrUnexpectedEOF}))
			case 2: // ignores Range
				resp = response(200, fuzzContent)
			case 3: // overlong
				benign = false
				resp = response(200, append(append([]byte(nil), fuzzContent...), make([]byte, arg+1)...))
			case 4: // claims a later start than it serves
				benign = false
				resp = response(206, fuzzContent[off:], "Content-Range", fmt.Sprintf("bytes %d-%d/%d", off+1+arg, n-1, n))
			case 5: // corrupts one byte
				benign = false
				body := append([]byte(nil), fuzzContent...)
				body[arg] ^= 1
				resp = response(200, body)
			case 6: // server error
				benign = false
				resp = response(503, nil)
			default: // gone
				benign = false
				resp = response(404, nil)
			}
			resp.Body = io.NopCloser(&countingReader{r: resp.Body, n: 0, total: &sent})
			return resp, nil
		})
		d := &Downloader{HTTP: &http.Client{Transport: rt}, Retries: retries, Backoff: time.Nanosecond}
		res, err := d.Fetch(t.Context(), "http://127.0.0.1/t", tf, dest, "model.bin")
		got, rerr := os.ReadFile(dest)
		if err == nil {
			if !bytes.Equal(got, fuzzContent) {
				t.Fatalf("fetch succeeded but the staged file (%d bytes) is not the target", len(got))
			}
		} else {
			switch codes.CodeOf(err) {
			case codes.Network, codes.HashMismatch, codes.LengthExceeded, codes.TargetNotFound:
			default:
				t.Fatalf("code %s: %v", codes.CodeOf(err), err)
			}
			if rerr == nil && int64(len(got)) > n {
				t.Fatalf("%d bytes staged after a failure, signed %d", len(got), n)
			}
			if benign && cuts <= retries {
				t.Fatalf("an honest server cutting %d times (retries %d) made fetch fail: %v", cuts, retries, err)
			}
		}
		if res.Transferred < 0 || res.Transferred > sent || res.ResumedFrom < 0 || res.ResumedFrom > n {
			t.Fatalf("result %+v", res)
		}
		if err == nil && res.ResumedFrom+res.Transferred < n {
			t.Fatalf("result %+v: counts less than the file", res)
		}
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// FuzzHTTPFetcher: metadata downloads are bounded by maxLength whatever
// the server declares or sends.
func FuzzHTTPFetcher(f *testing.F) {
	f.Add(uint16(10), int64(10), uint16(10), uint16(200))
	f.Add(uint16(11), int64(-1), uint16(10), uint16(200))
	f.Add(uint16(5), int64(1<<40), uint16(10), uint16(200))
	f.Add(uint16(5), int64(5), uint16(10), uint16(404))
	f.Fuzz(func(t *testing.T, bodyLen uint16, declared int64, maxLen uint16, status uint16) {
		body := bytes.Repeat([]byte{'x'}, int(bodyLen))
		reader := &countingReader{r: bytes.NewReader(body)}
		fe := &HTTPFetcher{Client: &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: int(status%600) + 1, ContentLength: declared, Header: http.Header{}, Body: io.NopCloser(reader)}, nil
		})}, Retries: 0}
		data, err := fe.DownloadFile("http://127.0.0.1/metadata/timestamp.json", int64(maxLen), 0)
		if reader.n > int64(maxLen)+1 {
			t.Fatalf("read %d bytes with a limit of %d", reader.n, maxLen)
		}
		if err == nil {
			if int64(len(data)) > int64(maxLen) || !bytes.Equal(data, body) {
				t.Fatalf("accepted %d bytes (limit %d, body %d)", len(data), maxLen, len(body))
			}
			return
		}
		var tooLong *metadata.ErrDownloadLengthMismatch
		if int(status%600)+1 == 200 && bodyLen > maxLen && declared < 0 && !errors.As(err, &tooLong) {
			t.Fatalf("overlong body: %v", err)
		}
		if int(status%600)+1 == 200 && bodyLen > maxLen && codes.CodeOf(err) != codes.LengthExceeded {
			t.Fatalf("overlong body classified %s: %v", codes.CodeOf(err), err)
		}
	})
}

type countingReader struct {
	r     io.Reader
	n     int64
	total *int64 // also counted here, if set
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.total != nil {
		*c.total += int64(n)
	}
	return n, err
}

// FuzzParseCABundle: a CA bundle (init's --ca-file, the state
// directory's ca.pem) is accepted only as PEM certificates, and never
// panics the parser.
func FuzzParseCABundle(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("not pem"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		pool, err := ParseCABundle(data)
		if (err == nil) != (pool != nil) {
			t.Fatalf("pool %v, error %v", pool, err)
		}
		if err == nil && !strings.Contains(string(data), "-----BEGIN CERTIFICATE-----") {
			t.Fatalf("accepted a bundle without a certificate block")
		}
	})
}

// FuzzRedirectPolicy: whatever Location a server sends and whatever host
// is allowed, a redirect is followed only to the origin of the first
// request or to an allowed host, never from https to http, never to
// another scheme.
func FuzzRedirectPolicy(f *testing.F) {
	f.Add("https://repo.example.com/metadata/timestamp.json", "https://cdn.example.com/x", "cdn.example.com", false)
	f.Add("https://repo.example.com/a", "http://repo.example.com/a", "", false)
	f.Add("http://127.0.0.1:8080/a", "http://127.0.0.1:9090/a", "127.0.0.1:9090", true)
	f.Add("https://repo.example.com/a", "https://REPO.example.com:443/b", "", false)
	f.Add("https://[::1]:8443/a", "https://[::1]:8443/b", "[::1]:8443", false)
	f.Fuzz(func(t *testing.T, first, location, allow string, requireHTTPS bool) {
		from, err := url.Parse(first)
		if err != nil || (from.Scheme != "http" && from.Scheme != "https") || from.Host == "" {
			return
		}
		to, err := from.Parse(location)
		if err != nil {
			return
		}
		p := &Policy{RequireHTTPS: requireHTTPS}
		if e, err := ParseHostEntry(allow); err == nil {
			p.Allow = append(p.Allow, e)
		}
		via := []*http.Request{{URL: from}}
		if p.checkRedirect(&http.Request{URL: to}, via) != nil {
			return
		}
		switch {
		case to.Scheme != "http" && to.Scheme != "https":
			t.Fatalf("followed %s", to)
		case to.Scheme == "http" && (from.Scheme == "https" || requireHTTPS):
			t.Fatalf("followed %s -> %s (HTTPS required: %v)", from, to, requireHTTPS)
		case origin(to) != origin(from) && !p.allowed(to):
			t.Fatalf("followed %s -> %s, allowed %q", from, to, allow)
		}
	})
}
