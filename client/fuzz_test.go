package client

// Fuzz tests for what the client parses from outside: HTTP response
// headers and bodies (Content-Range, target and metadata downloads), the
// state files in the state directory, the expiry of local metadata, and
// device compatibility against signed constraints. Each checks properties,
// not only the absence of panics. Seeds are here and in testdata/fuzz/.

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/targets"
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
		d := &downloader{http: &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
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
		body, start, err := d.open(t.Context(), "http://127.0.0.1/x", offset, startWatchdog(realAfter, 0, nil))
		if err != nil {
			if c := CodeOf(err); c != Network && c != TargetNotFound {
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

// FuzzFetch drives the downloader against a scripted server (one byte per
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
		d := &downloader{http: &http.Client{Transport: rt}, retries: retries, backoff: time.Nanosecond}
		res, err := d.fetch(t.Context(), "http://127.0.0.1/t", tf, dest, "model.bin")
		got, rerr := os.ReadFile(dest)
		if err == nil {
			if !bytes.Equal(got, fuzzContent) {
				t.Fatalf("fetch succeeded but the staged file (%d bytes) is not the target", len(got))
			}
		} else {
			switch CodeOf(err) {
			case Network, HashMismatch, LengthExceeded, TargetNotFound:
			default:
				t.Fatalf("code %s: %v", CodeOf(err), err)
			}
			if rerr == nil && int64(len(got)) > n {
				t.Fatalf("%d bytes staged after a failure, signed %d", len(got), n)
			}
			if benign && cuts <= retries {
				t.Fatalf("an honest server cutting %d times (retries %d) made fetch fail: %v", cuts, retries, err)
			}
		}
		if res.transferred < 0 || res.transferred > sent || res.resumedFrom < 0 || res.resumedFrom > n {
			t.Fatalf("result %+v", res)
		}
		if err == nil && res.resumedFrom+res.transferred < n {
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
		fe := &httpFetcher{client: &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: int(status%600) + 1, ContentLength: declared, Header: http.Header{}, Body: io.NopCloser(reader)}, nil
		})}, retries: 0}
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
		if int(status%600)+1 == 200 && bodyLen > maxLen && CodeOf(err) != LengthExceeded {
			t.Fatalf("overlong body classified %s: %v", CodeOf(err), err)
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

// stateFile writes data as a state file and returns the model's paths.
func stateFile(t *testing.T, name string, data []byte) modelPaths {
	dir := t.TempDir()
	p := modelPaths{fs: safefs.New(dir), dir: dir, staging: filepath.Join(dir, "staging")}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func FuzzReadPointer(f *testing.F) {
	for _, s := range []string{
		`{"model_id":"det","version":"1.0.0","activated_at":"2026-01-01T00:00:00Z"}`,
		`{"model_id":"det","version":"1.1.0","previous":"1.0.0","trial":true,"activated_at":"x"}`,
		`{"model_id":"other","version":"1.0.0"}`,
		`{"model_id":"det","version":"../../etc"}`,
		`{"model_id":"det","version":"1.0.0","previous":"/abs"}`,
		`{"model_id":"det","version":"1.0.0","extra":1}`,
		`{"model_id":"det","version":"1.0.0"} trailing`,
		`null`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := stateFile(t, activeFile, data)
		ptr, err := readPointer(p, "det")
		if err != nil {
			if CodeOf(err) != StateInvalid {
				t.Fatalf("code %s: %v", CodeOf(err), err)
			}
			return
		}
		if ptr == nil {
			t.Fatal("an existing pointer file read as none")
		}
		// Accepted pointers name this model and versions that are safe
		// path components.
		if ptr.ModelID != "det" {
			t.Fatalf("model %q", ptr.ModelID)
		}
		for _, v := range []string{ptr.Version, ptr.Previous} {
			if v == "" && v == ptr.Previous {
				continue
			}
			pv, err := targets.ParseVersion(v)
			if err != nil || strings.ContainsAny(v, `/\`) || v == "." || v == ".." {
				t.Fatalf("accepted version %q (%v)", v, err)
			}
			_ = pv
		}
		// What was accepted survives a write and a read unchanged.
		if err := writeJSON(p.fs, p.pointer(), ptr); err != nil {
			t.Fatal(err)
		}
		again, err := readPointer(p, "det")
		if err != nil || !reflect.DeepEqual(again, ptr) {
			t.Fatalf("round trip: %+v -> %+v (%v)", ptr, again, err)
		}
	})
}

// FuzzReadModelState: whatever state.json holds, reading it never fails
// (a damaged file must not stop the model for ever) and never forgets a
// mark: every version the file lists as bad, if it can be read that far,
// still counts as bad. What is read survives a write and a read, bounded.
func FuzzReadModelState(f *testing.F) {
	for _, s := range []string{
		`{"bad_versions":["1.1.0"]}`,
		`{"bad_versions":null,"last_result":{"time":"t","model_id":"det","outcome":"updated","bytes_downloaded":10}}`,
		`{"bad_versions":[],"last_result":{"bytes_downloaded":"x"}}`,
		`{"unknown":1}`, `[]`, `{}`,
		`{"bad_versions":["1.1.0","2.0.0"],"last_result":{"time":"t","skipped":[{"version":"3.0.0","co`,
		`{"bad_versions":["1.1.0"],"bad_through":"1.0.0","marks_lost":true}`,
		`{"bad_versions":["1.1.0"],"bad_through":"not a version"}`,
		`{"bad_versions":["../x"]}`,
		`{"bad_versions":["1.1.0"`,
		"\x00\xff garbage",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := stateFile(t, modelStateFile, data)
		ms, damage := readModelState(p)
		if damage != nil && CodeOf(damage) != StateInvalid {
			t.Fatalf("damage code %s: %v", CodeOf(damage), damage)
		}
		if ms == nil || ms.BadVersions == nil {
			t.Fatalf("state %+v", ms)
		}
		if damage != nil && ms.LastResult != nil {
			t.Fatal("the last result of a damaged file was kept")
		}
		if len(ms.BadVersions) > maxBadVersions {
			t.Fatalf("%d marks", len(ms.BadVersions))
		}
		for _, v := range ms.BadVersions {
			if !ms.isBad(v) {
				t.Fatalf("%q listed but not bad", v)
			}
		}
		var lenient struct {
			BadVersions []string `json:"bad_versions"`
		}
		if json.Unmarshal(data, &lenient) == nil {
			for _, v := range lenient.BadVersions {
				if _, err := targets.ParseVersion(v); err == nil && !ms.isBad(v) {
					t.Fatalf("mark %q forgotten (damage %v)", v, damage)
				}
			}
		}
		if err := writeModelState(p, ms); err != nil {
			t.Fatal(err)
		}
		again, damage := readModelState(p)
		if damage != nil {
			t.Fatalf("what was written reads as damaged: %v", damage)
		}
		if !reflect.DeepEqual(again.BadVersions, ms.BadVersions) || again.BadThrough != ms.BadThrough || again.MarksLost != ms.MarksLost ||
			!reflect.DeepEqual(again.LastResult, storedResult(ms.LastResult)) {
			t.Fatalf("round trip: %+v -> %+v", ms, again)
		}
	})
}

func FuzzReadConfig(f *testing.F) {
	for _, s := range []string{
		`{"format":"mclient-state-v1","repo_url":"http://127.0.0.1:8080","device_class":"linux/arm64"}`,
		`{"format":"mclient-state-v1","repo_url":"file:///srv/repo","device_class":"x","min_version":"1.0.0","device_id":"d"}`,
		`{"format":"mclient-state-v2","repo_url":"http://x","device_class":"x"}`,
		`{"format":"mclient-state-v1","repo_url":"ftp://x","device_class":"x"}`,
		`{"format":"mclient-state-v1","repo_url":"file://relative","device_class":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, configFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := readConfig(dir)
		if err != nil {
			if CodeOf(err) != StateInvalid {
				t.Fatalf("code %s: %v", CodeOf(err), err)
			}
			return
		}
		if c.Format != configFormat || CheckRepoURL(c.RepoURL) != nil {
			t.Fatalf("accepted %+v", c)
		}
	})
}

// FuzzLocalExpiry: the unverified expiry read for offline checks agrees
// with go-tuf's own parser whenever go-tuf can read the file.
func FuzzLocalExpiry(f *testing.F) {
	for _, s := range []string{
		`{"signed":{"_type":"timestamp","spec_version":"1.0","version":3,"expires":"2030-01-01T00:00:00Z","meta":{"snapshot.json":{"version":3}}},"signatures":[]}`,
		`{"signed":{"_type":"targets","spec_version":"1.0","version":1,"expires":"2030-01-01T00:00:00.5+02:00","targets":{}},"signatures":[]}`,
		`{"signed":{"expires":"not a time"}}`,
		`{"signed":{"expires":"0001-01-01T00:00:00Z"}}`,
		`{"signed":{"expires":"2030-01-01T00:00:00Z"},"signed":{"expires":"2031-01-01T00:00:00Z"}}`,
		`{"Signed":{"Expires":"2030-01-01T00:00:00Z"}}`,
		`[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "timestamp.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		exp, ok := localExpiry(p)
		if ok && exp.IsZero() {
			t.Fatal("ok with a zero expiry")
		}
		check := func(role string, want time.Time, err error) {
			if err != nil || want.IsZero() {
				return
			}
			if !ok || !exp.Equal(want) {
				t.Fatalf("go-tuf reads %s expiry %v, localExpiry %v %v", role, want, exp, ok)
			}
		}
		ts, err := metadata.Timestamp().FromBytes(data)
		if err == nil {
			check("timestamp", ts.Signed.Expires, nil)
		}
		sn, err := metadata.Snapshot().FromBytes(data)
		if err == nil {
			check("snapshot", sn.Signed.Expires, nil)
		}
		tg, err := metadata.Targets().FromBytes(data)
		if err == nil {
			check("targets", tg.Signed.Expires, nil)
		}
	})
}

// FuzzCompatible: signed constraints against what a device reports.
// Constraints on something the device did not report fail closed, and a
// version without constraints suits every device that asks for no variant.
func FuzzCompatible(f *testing.F) {
	f.Add("lite", "2.4", "linux/arm64", "onnxruntime", "1.17", "2.4.1", "linux/arm64", "onnxruntime", "1.17.0", "")
	f.Add("", "", "android/*", "", "", "", "android/arm", "", "", "")
	f.Add("", "1.x", "", "tflite", "zz", "1", "", "TFLite", "2", "lite")
	f.Fuzz(func(t *testing.T, variant, minApp, platform, rtName, rtMin, devApp, devPlatform, devRt, devRtVer, devVariant string) {
		c := targets.Compat{Variant: variant, MinAppVersion: minApp}
		if platform != "" {
			c.Platforms = []string{platform}
		}
		if rtName != "" {
			c.Runtime = &targets.Runtime{Name: rtName, MinVersion: rtMin}
		}
		d := Device{AppVersion: devApp, Platform: devPlatform, Runtime: devRt, RuntimeVersion: devRtVer, Variant: devVariant}
		err := d.Compatible(&c)
		if err == nil {
			if minApp != "" && devApp == "" {
				t.Fatal("min_app_version accepted from a device that gave no app version")
			}
			if rtName != "" && devRt == "" {
				t.Fatal("runtime constraint accepted from a device that gave no runtime")
			}
			if devVariant != "" && variant != devVariant {
				t.Fatalf("variant %q accepted by a device that wants %q", variant, devVariant)
			}
			if platform != "" && devPlatform != "" && platform != devPlatform && !strings.HasSuffix(platform, "/*") {
				t.Fatalf("platform %q accepted on %q", platform, devPlatform)
			}
		}
		if devVariant == "" && (Device{Platform: devPlatform}).Compatible(&targets.Compat{}) != nil {
			t.Fatal("a version without constraints refused")
		}
	})
}
