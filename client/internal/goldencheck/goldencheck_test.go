package goldencheck

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/targets"
)

func f32(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = append(b, byte(math.Float32bits(x)), byte(math.Float32bits(x)>>8), byte(math.Float32bits(x)>>16), byte(math.Float32bits(x)>>24))
	}
	return b
}

// fixture is an installed version in a state directory, and a health
// command that copies, for each vector, the file replies/NAME to the
// output (or does what replies/NAME.sh says), and logs its runs.
type fixture struct {
	t       *testing.T
	state   string
	dir     string
	replies string
	log     string
}

// newFixture installs version 1.0.0 of model m with files (name to
// content) and the given vectors.
func newFixture(t *testing.T, files map[string][]byte, vectors ...targets.Vector) *fixture {
	t.Helper()
	state := t.TempDir()
	f := &fixture{t: t, state: state, dir: filepath.Join(state, "models", "m", "1.0.0"), replies: filepath.Join(state, "replies"), log: filepath.Join(state, "runs.log")}
	for _, d := range []string{f.dir, f.replies} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m := &targets.Manifest{SchemaVersion: 1, ModelID: "m", Version: "1.0.0", BuildTimestamp: "2026-01-01T00:00:00Z"}
	for name, b := range files {
		size := int64(len(b))
		m.Files = append(m.Files, targets.FileEntry{Path: name, SHA256: strings.Repeat("0", 64), Size: &size})
		f.write(filepath.Join(f.dir, name), b)
	}
	if len(vectors) > 0 {
		m.Health = &targets.Health{Vectors: vectors}
	}
	b, err := m.MarshalPublished()
	if err != nil {
		t.Fatal(err)
	}
	f.write(filepath.Join(f.dir, targets.ManifestName), b)
	f.write(filepath.Join(state, "check.sh"), []byte(`
echo "run $# $1 name=$MCLIENT_VECTOR_NAME format=$MCLIENT_VECTOR_FORMAT input=$MCLIENT_VECTOR_INPUT id=$MCLIENT_MODEL_ID" >> "`+f.log+`"
[ -z "$MCLIENT_VECTOR_NAME" ] && exit 0
r="`+f.replies+`/$MCLIENT_VECTOR_NAME"
if [ -f "$r.sh" ]; then . "$r.sh"; exit; fi
[ -f "$r" ] && cp "$r" "$MCLIENT_VECTOR_OUTPUT"
exit 0
`))
	return f
}

func (f *fixture) write(path string, b []byte) {
	f.t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// reply makes the command write b for the vector name.
func (f *fixture) reply(name string, b []byte) { f.write(filepath.Join(f.replies, name), b) }

// script makes the command run sh for the vector name.
func (f *fixture) script(name, sh string) { f.write(filepath.Join(f.replies, name+".sh"), []byte(sh)) }

func (f *fixture) check(command string) Check {
	return Check{FS: safefs.New(f.state), Dir: f.dir, Command: command, Timeout: time.Minute, Env: []string{"MCLIENT_MODEL_ID=m"}}
}

func (f *fixture) run(ctx context.Context) error {
	return f.check("sh " + filepath.Join(f.state, "check.sh")).Run(ctx)
}

func (f *fixture) runs() []string {
	b, _ := os.ReadFile(f.log)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// leftovers fails the test if an output directory was left behind.
func (f *fixture) leftovers() {
	f.t.Helper()
	entries, _ := os.ReadDir(filepath.Dir(f.dir))
	for _, e := range entries {
		if e.Name() != "1.0.0" {
			f.t.Errorf("left in the model directory: %s", e.Name())
		}
	}
}

func wantFail(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	if codes.CodeOf(err) != code || err == nil || !strings.Contains(err.Error(), msg) {
		t.Errorf("got %v\nwant %s containing %q", err, code, msg)
	}
}

var (
	zero, one = 0.0, 1.0
	probe     = targets.Vector{Name: "probe", Input: "in.bin", Format: targets.FormatFloat32, Expect: "out.bin",
		Tolerance: &targets.Tolerance{Abs: 1e-5, Rel: 1e-3}, Range: &targets.Range{Min: &zero, Max: &one}, Finite: true}
	probeFiles = map[string][]byte{"model.bin": []byte("weights"), "in.bin": f32(1, 2), "out.bin": f32(0.25, 0.5, 0.25)}
)

func TestNoVectors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, map[string][]byte{"model.bin": []byte("w")})
	if err := f.check("").Run(context.Background()); err != nil {
		t.Fatalf("no command, no vectors: %v", err)
	}
	if _, err := os.Stat(f.log); err == nil {
		t.Fatal("a command ran")
	}
	if err := f.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.runs(); len(got) != 1 || got[0] != "run 1 "+f.dir+" name= format= input= id=m" {
		t.Errorf("runs %q: want one plain run with DIR", got)
	}
	// The plain protocol's failures are unchanged.
	f.write(filepath.Join(f.state, "check.sh"), []byte("echo broken; exit 3"))
	wantFail(t, f.run(context.Background()), codes.HealthcheckFailed, `exit status 3: broken`)
}

func TestVectorsPass(t *testing.T) {
	t.Parallel()
	count := targets.Vector{Name: "count", Input: "in.bin", Format: targets.FormatFloat32, Count: 2, Range: &targets.Range{Max: &one}, Finite: true}
	raw := targets.Vector{Name: "raw", Input: "model.bin", Format: targets.FormatBytes, Expect: "model.bin"}
	f := newFixture(t, probeFiles, probe, count, raw)
	f.reply("probe", f32(0.25, 0.5001, 0.25)) // within rel 1e-3
	f.reply("count", f32(-7, 1))
	f.reply("raw", []byte("weights"))
	if err := f.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"run 1 " + f.dir + " name=probe format=float32le input=" + filepath.Join(f.dir, "in.bin") + " id=m",
		"run 1 " + f.dir + " name=count format=float32le input=" + filepath.Join(f.dir, "in.bin") + " id=m",
		"run 1 " + f.dir + " name=raw format=bytes input=" + filepath.Join(f.dir, "model.bin") + " id=m",
	}
	if got := f.runs(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("runs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	f.leftovers()
}

// TestVectorsFail: each way an output can be wrong fails the check with
// HEALTHCHECK_FAILED, names the vector and the first bad element, and
// leaves no output behind.
func TestVectorsFail(t *testing.T) {
	t.Parallel()
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct {
		name  string
		reply []byte
		sh    string
		want  string
	}{
		{"wrong", f32(0.25, 0.75, 0.25), "", `test vector "probe" (1 of 1): output element 1 is 0.75, expected 0.5 (tolerance abs 1e-05, rel 0.001)`},
		{"sign flipped", f32(-0.25, 0.5, 0.25), "", `output element 0 is -0.25, outside [0, 1]`},
		{"nan", f32(0.25, nan, 0.25), "", `output element 1 is NaN, not finite`},
		{"inf", f32(inf, 0.5, 0.25), "", `output element 0 is +Inf, not finite`},
		{"longer", f32(0.25, 0.5, 0.25, 0), "", `output is 16 bytes, expected 12`},
		{"shorter", f32(0.25, 0.5), "", `output is 8 bytes, expected 12`},
		{"huge", nil, `truncate -s 1G "$MCLIENT_VECTOR_OUTPUT"`, `output is 1073741824 bytes, expected 12`},
		{"missing", nil, "exit 0", `test vector "probe" (1 of 1): the health command wrote no output (MCLIENT_VECTOR_OUTPUT)`},
		{"symlink", nil, `ln -s "$MCLIENT_VECTOR_INPUT" "$MCLIENT_VECTOR_OUTPUT"`, `is a symbolic link`},
		{"fifo", nil, `mkfifo "$MCLIENT_VECTOR_OUTPUT"`, `is not a regular file`},
		{"directory", nil, `mkdir "$MCLIENT_VECTOR_OUTPUT"`, `output is not a regular file`},
		{"exit", nil, `echo "cannot load model" >&2; exit 2`, `test vector "probe" (1 of 1): health check "sh `},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, probeFiles, probe)
			if c.sh != "" {
				f.script("probe", c.sh)
			} else {
				f.reply("probe", c.reply)
			}
			wantFail(t, f.run(context.Background()), codes.HealthcheckFailed, c.want)
			f.leftovers()
		})
	}
}

func TestBytesMismatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, map[string][]byte{"in.bin": []byte("x"), "want.txt": []byte("cat\n")},
		targets.Vector{Name: "label", Input: "in.bin", Format: targets.FormatBytes, Expect: "want.txt"})
	f.reply("label", []byte("cab\n"))
	wantFail(t, f.run(context.Background()), codes.HealthcheckFailed, `test vector "label" (1 of 1): output byte 2 is 0x62, expected 0x74`)
}

// TestLaterVectorFails: vectors run in order and the first failure stops
// the check.
func TestLaterVectorFails(t *testing.T) {
	t.Parallel()
	second := probe
	second.Name = "second"
	third := probe
	third.Name = "third"
	f := newFixture(t, probeFiles, probe, second, third)
	f.reply("probe", f32(0.25, 0.5, 0.25))
	f.reply("second", f32(0.25, 0.5, 0.3))
	f.reply("third", f32(0.25, 0.5, 0.25))
	wantFail(t, f.run(context.Background()), codes.HealthcheckFailed, `test vector "second" (2 of 3): output element 2 is 0.3, expected 0.25`)
	if n := len(f.runs()); n != 2 {
		t.Errorf("%d runs, want 2", n)
	}
}

// TestVectorsWithoutCommand: vectors and no command to run them fail
// closed.
func TestVectorsWithoutCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, probeFiles, probe)
	wantFail(t, f.check("").Run(context.Background()), codes.HealthcheckFailed,
		"the manifest declares 1 test vectors and no health check command is configured to run them")
}

// TestStopKeepsItsCode: a run stopped by the caller while a vector runs is
// CANCELLED, not a failed check, so that the version stays on trial.
func TestStopKeepsItsCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, probeFiles, probe)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := f.run(ctx)
	wantFail(t, err, codes.Cancelled, `test vector "probe"`)
	f.leftovers()
}

func TestDamagedInstall(t *testing.T) {
	t.Parallel()
	f := newFixture(t, probeFiles, probe)
	f.reply("probe", f32(0.25, 0.5, 0.25))
	if err := os.Remove(filepath.Join(f.dir, "out.bin")); err != nil {
		t.Fatal(err)
	}
	wantFail(t, f.run(context.Background()), codes.HashMismatch, "expected output out.bin")
	f.write(filepath.Join(f.dir, targets.ManifestName), []byte(`{"schema_version":1}`))
	wantFail(t, f.run(context.Background()), codes.ManifestInvalid, "installed manifest")
	os.Remove(filepath.Join(f.dir, targets.ManifestName))
	wantFail(t, f.run(context.Background()), codes.HashMismatch, "installed manifest")
}

// TestComparerBounded: an output that grew after it was measured is
// refused after size+1 bytes, never read further; one that shrank is
// refused too.
func TestComparerBounded(t *testing.T) {
	t.Parallel()
	v := &targets.Vector{Name: "v", Format: targets.FormatFloat32, Count: 2, Finite: true}
	endless := &countingReader{}
	err := comparer{v: v, size: 8}.run(endless)
	wantFail(t, err, codes.HealthcheckFailed, "output is longer than the expected 8 bytes")
	if endless.n > 8+1 {
		t.Errorf("read %d bytes of an endless output", endless.n)
	}
	err = comparer{v: v, size: 8}.run(bytes.NewReader(f32(1)))
	wantFail(t, err, codes.HealthcheckFailed, "output ended before its size: changed while read")
	err = comparer{v: &targets.Vector{Format: targets.FormatBytes}, size: 3, want: bytes.NewReader([]byte("ab"))}.run(bytes.NewReader([]byte("abc")))
	wantFail(t, err, codes.HealthcheckFailed, "expected output ended before its size")
	// Equal infinities are equal; NaN matches nothing, not even NaN.
	inf, nan := float32(math.Inf(-1)), float32(math.NaN())
	exact := &targets.Vector{Format: targets.FormatFloat32, Expect: "x"}
	if err := (comparer{v: exact, size: 4, want: bytes.NewReader(f32(inf))}).run(bytes.NewReader(f32(inf))); err != nil {
		t.Errorf("-Inf vs -Inf: %v", err)
	}
	wantFail(t, comparer{v: exact, size: 4, want: bytes.NewReader(f32(nan))}.run(bytes.NewReader(f32(nan))),
		codes.HealthcheckFailed, "output element 0 is NaN, expected NaN")
}

// countingReader is an endless output of zero bytes.
type countingReader struct{ n int }

func (r *countingReader) Read(p []byte) (int, error) {
	clear(p)
	r.n += len(p)
	return len(p), nil
}

// BenchmarkCompareFloat32: streaming a 16 MiB float32le output against
// its expected file with every check on (bytes/s, allocations).
func BenchmarkCompareFloat32(b *testing.B) {
	const n = 4 << 20
	data := bytes.Repeat(f32(0.5), n)
	v := &targets.Vector{Format: targets.FormatFloat32, Expect: "x", Tolerance: &targets.Tolerance{Abs: 1e-5, Rel: 1e-4},
		Range: &targets.Range{Min: &zero, Max: &one}, Finite: true}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := (comparer{v: v, size: int64(len(data)), want: bytes.NewReader(data)}).run(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
