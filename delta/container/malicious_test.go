package container_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/edgetuf/edgetuf/delta/container"
	"github.com/edgetuf/edgetuf/delta/container/containertest"
)

// hugeFile is a file of size bytes: prefix, then zeros. It counts the
// bytes read, so a test can assert that a parser did not read it all.
type hugeFile struct {
	prefix []byte
	size   int64
	read   atomic.Int64
}

func (f *hugeFile) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 || off >= f.size {
		return 0, fmt.Errorf("read at %d of a %d-byte file", off, f.size)
	}
	n := int(min(int64(len(b)), f.size-off))
	for i := range b[:n] {
		b[i] = 0
	}
	if off < int64(len(f.prefix)) {
		copy(b[:n], f.prefix[off:])
	}
	f.read.Add(int64(n))
	if n < len(b) {
		return n, fmt.Errorf("EOF at %d", f.size)
	}
	return n, nil
}

// Bounds every hostile parse must stay within, whatever the file claims.
const (
	maxAlloc = 4 << 20
	maxRead  = 1 << 20
)

// refuse parses a hostile file of size bytes (prefix then zeros) and
// asserts ErrFormat, within maxAlloc bytes allocated and maxRead read.
func refuse(t *testing.T, name string, prefix []byte, size int64, lim container.Limits) {
	t.Helper()
	f := &hugeFile{prefix: prefix, size: size}
	var err error
	alloc := memDelta(func() { _, err = container.Parse(f, size, lim) })
	if !errors.Is(err, container.ErrFormat) {
		t.Errorf("%s: %v, want ErrFormat", name, err)
	}
	if alloc > maxAlloc || f.read.Load() > maxRead {
		t.Errorf("%s: allocated %d bytes and read %d (bounds %d and %d)", name, alloc, f.read.Load(), maxAlloc, maxRead)
	}
}

// safeTensorsFile writes a safetensors file with header hdr and n bytes
// of data.
func safeTensorsFile(hdr string, n int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	return append(append(b, hdr...), make([]byte, n)...)
}

func TestSafeTensorsMalicious(t *testing.T) {
	t1 := func(name, dtype, shape string, b, e int64) string {
		return fmt.Sprintf(`%q:{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`, name, dtype, shape, b, e)
	}
	cases := map[string]string{
		"overlapping tensors":   "{" + t1("a", "F32", "[2]", 0, 8) + "," + t1("b", "F32", "[2]", 4, 12) + "}",
		"offset past the end":   "{" + t1("a", "F32", "[4]", 8, 24) + "}",
		"end before begin":      "{" + t1("a", "F32", "[0]", 8, 4) + "}",
		"negative offset":       "{" + t1("a", "F32", "[1]", -4, 0) + "}",
		"negative shape":        "{" + t1("a", "F32", "[-1,-4]", 0, 16) + "}",
		"overflowing shape":     "{" + t1("a", "F32", "[4294967296,4294967296,4294967296]", 0, 16) + "}",
		"length not the shape":  "{" + t1("a", "F32", "[3]", 0, 16) + "}",
		"duplicate names":       "{" + t1("a", "F32", "[1]", 0, 4) + "," + t1("a", "F32", "[1]", 4, 8) + "}",
		"unknown field":         `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`,
		"wrong type":            `{"a":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}`,
		"three offsets":         `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`,
		"not JSON":              `{"a":`,
		"trailing data":         "{" + t1("a", "F32", "[1]", 0, 4) + "}{}",
		"metadata not strings":  `{"__metadata__":{"a":1}}`,
		"huge number of digits": `{"a":{"dtype":"F32","shape":[1` + strings.Repeat("0", 40) + `],"data_offsets":[0,4]}}`,
	}
	for name, hdr := range cases {
		refuse(t, name, safeTensorsFile(hdr, 16), int64(8+len(hdr)+16), container.Limits{})
	}
	// A header length past the file, and past the header limit.
	refuse(t, "header length 2^62", append(binary.LittleEndian.AppendUint64(nil, 1<<62), `{"a":1}`...), 1<<40, container.Limits{})
	refuse(t, "header past MaxHeader", append(binary.LittleEndian.AppendUint64(nil, 1<<30), `{"a":1}`...), 1<<40, container.Limits{})
	// More tensors than MaxTensors.
	var many []string
	for i := range 11 {
		many = append(many, t1(fmt.Sprint("t", i), "U8", "[1]", int64(i), int64(i+1)))
	}
	hdr := "{" + strings.Join(many, ",") + "}"
	refuse(t, "11 tensors, limit 10", safeTensorsFile(hdr, 11), int64(8+len(hdr)+11), container.Limits{MaxTensors: 10})
}

// ggufHeader starts a GGUF v3 header claiming nTensors and nKV.
func ggufHeader(nTensors, nKV uint64) []byte {
	b := []byte("GGUF")
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = binary.LittleEndian.AppendUint64(b, nTensors)
	return binary.LittleEndian.AppendUint64(b, nKV)
}

// ggufTensorInfo appends a tensor info.
func ggufTensorInfo(b []byte, name string, dims []uint64, typ uint32, off uint64) []byte {
	b = containertest.AppendString(b, name)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(dims)))
	for _, d := range dims {
		b = binary.LittleEndian.AppendUint64(b, d)
	}
	b = binary.LittleEndian.AppendUint32(b, typ)
	return binary.LittleEndian.AppendUint64(b, off)
}

func TestGGUFMalicious(t *testing.T) {
	le32 := binary.LittleEndian.AppendUint32
	le64 := binary.LittleEndian.AppendUint64
	kv := func(key string, typ uint32, value []byte) []byte {
		return append(le32(containertest.AppendString(ggufHeader(0, 1), key), typ), value...)
	}
	// Arrays of arrays, 1,000 deep.
	nested := ggufHeader(0, 1)
	nested = le32(containertest.AppendString(nested, "deep"), 9)
	for range 1000 {
		nested = le64(le32(nested, 9), 1)
	}
	twoTensors := func(off1, off2 uint64, dims2 []uint64) []byte {
		b := ggufTensorInfo(ggufHeader(2, 0), "a", []uint64{8}, 0, off1)
		return ggufTensorInfo(b, "b", dims2, 0, off2)
	}
	cases := map[string][]byte{
		"2^62 tensors":                  ggufHeader(1<<62, 0),
		"2^62 metadata pairs":           ggufHeader(0, 1<<62),
		"2^40-byte key":                 le64(ggufHeader(0, 1), 1<<40),
		"2^40-byte string value":        kv("k", 8, le64(nil, 1<<40)),
		"2^62 uint64 array":             kv("k", 9, le64(le32(nil, 10), 1<<62)),
		"2^40 string array":             kv("k", 9, le64(le32(nil, 8), 1<<40)),
		"arrays nested 1,000 deep":      nested,
		"unknown value type":            kv("k", 13, nil),
		"alignment 0":                   kv("general.alignment", 4, le32(nil, 0)),
		"alignment 3":                   kv("general.alignment", 4, le32(nil, 3)),
		"alignment 2^31":                kv("general.alignment", 4, le32(nil, 1<<31)),
		"negative alignment":            kv("general.alignment", 5, le32(nil, 0xFFFFFFE0)),
		"float alignment":               kv("general.alignment", 6, le32(nil, 0x42000000)),
		"version 1":                     append(append([]byte("GGUF"), 1, 0, 0, 0), make([]byte, 16)...),
		"version 4":                     append(append([]byte("GGUF"), 4, 0, 0, 0), make([]byte, 16)...),
		"overlapping tensors":           twoTensors(0, 16, []uint64{8}),
		"same offset":                   twoTensors(0, 0, []uint64{8}),
		"tensor 1 starts past the file": twoTensors(0, 1<<39, []uint64{1}),
		"tensor 1 ends past the file":   twoTensors(0, 32, []uint64{1 << 30}),
		"offset 2^63":                   twoTensors(0, 1<<63, []uint64{1}),
		"dims overflow":                 twoTensors(0, 32, []uint64{1 << 32, 1 << 32, 1 << 32}),
		"dimension 2^63":                twoTensors(0, 32, []uint64{1 << 63}),
		"1,000 dimensions":              ggufTensorInfo(ggufHeader(1, 0), "a", make([]uint64, 1000), 0, 0),
		"duplicate names":               ggufTensorInfo(ggufTensorInfo(ggufHeader(2, 0), "a", []uint64{8}, 0, 0), "a", []uint64{8}, 0, 32),
		"partial quantized block":       ggufTensorInfo(ggufHeader(1, 0), "q", []uint64{33}, 2, 0),
	}
	for name, prefix := range cases {
		// A small file: the header, padded, and 128 bytes of data.
		refuse(t, name+" (small file)", prefix, int64(len(prefix)+128), container.Limits{})
		if !strings.Contains(name, "past the file") && !strings.Contains(name, "overlap") && !strings.Contains(name, "same offset") {
			// A huge file (1 TiB of zeros after the header) must not
			// change the outcome or the cost.
			refuse(t, name+" (huge file)", prefix, 1<<40, container.Limits{})
		}
	}
	// Limits: 11 tensors with MaxTensors 10; a header past MaxHeader.
	refuse(t, "11 tensors, limit 10", ggufHeader(11, 0), 1<<20, container.Limits{MaxTensors: 10})
	long := kv("k", 8, append(le64(nil, 2000), make([]byte, 2000)...))
	refuse(t, "header past MaxHeader", long, 1<<20, container.Limits{MaxHeader: 1000})
}

// Every strict prefix of a small valid container fails: ErrFormat once
// the format is recognizable, ErrUnknown before.
func TestTruncatedContainers(t *testing.T) {
	ts := []containertest.Tensor{
		{Name: "a", DType: "F32", Shape: []int64{2}, Data: make([]byte, 8)},
		{Name: "b", DType: "I32", Shape: []int64{1}, Data: make([]byte, 4)},
	}
	for _, c := range []struct {
		name   string
		file   []byte
		detect int // bytes Parse needs to recognize the format
	}{
		{"safetensors", containertest.SafeTensors(ts), 10},
		{"gguf", containertest.GGUF(ts, 0), 4},
	} {
		// The data section ends with the last tensor (GGUF pads it).
		end := len(c.file)
		for end > 0 && c.file[end-1] == 0 && c.name == "gguf" {
			end--
		}
		for n := range len(c.file) - (len(c.file) - end) - 1 {
			f := &hugeFile{prefix: c.file[:n], size: int64(n)}
			_, err := container.Parse(f, int64(n), container.Limits{})
			want := container.ErrFormat
			if n < c.detect {
				want = container.ErrUnknown
			}
			if !errors.Is(err, want) {
				t.Errorf("%s truncated to %d of %d bytes: %v, want %v", c.name, n, len(c.file), err, want)
			}
		}
	}
}

func TestTFJSMalicious(t *testing.T) {
	w := func(name, dtype, shape string) string {
		return fmt.Sprintf(`{"name":%q,"dtype":%q,"shape":%s}`, name, dtype, shape)
	}
	m := func(weights ...string) string {
		return `{"weightsManifest":[{"paths":["s.bin"],"weights":[` + strings.Join(weights, ",") + `]}]}`
	}
	cases := map[string]string{
		"negative shape":     m(w("a", "float32", "[-1,-4]")),
		"overflowing shape":  m(w("a", "float32", "[4294967296,4294967296,4294967296]")),
		"group past 2^56":    m(w("a", "float32", "[4294967296,4194304]"), w("b", "float32", "[4294967296,4194304]")),
		"duplicate names":    m(w("a", "float32", "[1]"), w("a", "float32", "[1]")),
		"string dtype":       m(w("a", "string", "[1]")),
		"unknown dtype":      m(w("a", "float64", "[1]")),
		"uint8 unquantized":  m(w("a", "uint8", "[8]")),
		"wrong field type":   m(`{"name":"a","dtype":"float32","shape":"1"}`),
		"not JSON":           `{"weightsManifest":[`,
		"shard named twice":  `{"weightsManifest":[{"paths":["s.bin","s.bin"],"weights":[]}]}`,
		"shard in 2 groups":  `{"weightsManifest":[{"paths":["s.bin"],"weights":[]},{"paths":["s.bin"],"weights":[]}]}`,
		"shard size differs": m(w("a", "float32", "[3]")),
	}
	for name, manifest := range cases {
		var err error
		alloc := memDelta(func() { _, err = container.ParseTFJS([]byte(manifest), "s.bin", 8, container.Limits{}) })
		if !errors.Is(err, container.ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
		if alloc > maxAlloc {
			t.Errorf("%s: allocated %d bytes", name, alloc)
		}
	}
	// Every strict prefix of a valid manifest is malformed JSON.
	valid := m(w("a", "float32", "[1]"), w("b", "int32", "[1]"))
	for n := range len(valid) {
		if _, err := container.ParseTFJS([]byte(valid[:n]), "s.bin", 8, container.Limits{}); !errors.Is(err, container.ErrFormat) {
			t.Errorf("manifest truncated to %d bytes: %v, want ErrFormat", n, err)
		}
	}
	big := m(w("a", "float32", "[1]"), w("b", "float32", "[1]"))
	if _, err := container.ParseTFJS([]byte(big), "s.bin", 8, container.Limits{MaxTensors: 1}); !errors.Is(err, container.ErrFormat) {
		t.Errorf("2 weights, limit 1: %v, want ErrFormat", err)
	}
	if _, err := container.ParseTFJS([]byte(big), "s.bin", 8, container.Limits{MaxHeader: 10}); !errors.Is(err, container.ErrFormat) {
		t.Errorf("manifest past MaxHeader: %v, want ErrFormat", err)
	}
	if _, err := container.ParseTFJS([]byte(big), "s.bin", 8, container.Limits{}); err != nil {
		t.Errorf("the same manifest within the limits: %v", err)
	}
}

// Whatever a hostile table says, Parse returns only sorted, disjoint,
// in-file tensors (the invariant Diff relies on): checked on the valid
// containers of the round trips.
func TestTableInvariant(t *testing.T) {
	ts := containertest.Shuffle(sample(), 1)
	for _, file := range [][]byte{containertest.SafeTensors(ts), containertest.GGUF(ts[:4], 0)} {
		tab, err := container.Parse(bytes.NewReader(file), int64(len(file)), container.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		checkInvariant(t, tab, int64(len(file)))
	}
}

func checkInvariant(t testing.TB, tab *container.Table, size int64) {
	t.Helper()
	var end int64
	names := map[string]bool{}
	for _, x := range tab.Tensors {
		if x.Offset < end || x.Length < 0 || x.Offset+x.Length > size || names[x.Name] {
			t.Fatalf("tensor %+v breaks the table invariant (previous end %d, file %d bytes)", x, end, size)
		}
		end = x.Offset + x.Length
		names[x.Name] = true
	}
}

// Parsing a valid container reads its header only: a 64 GiB tensor's
// data is never read.
func TestParseReadsOnlyTheHeader(t *testing.T) {
	gguf := ggufTensorInfo(ggufHeader(1, 0), "big", []uint64{1 << 34}, 0, 0)
	st := safeTensorsFile(`{"big":{"dtype":"F32","shape":[17179869184],"data_offsets":[0,68719476736]}}`, 0)
	for name, c := range map[string]struct {
		prefix []byte
		data   int64
	}{"gguf": {gguf, 32 + 1<<36}, "safetensors": {st, 1 << 36}} {
		f := &hugeFile{prefix: c.prefix, size: int64(len(c.prefix)) + c.data}
		tab, err := container.Parse(f, f.size, container.Limits{})
		if err != nil || len(tab.Tensors) != 1 || tab.Tensors[0].Length != 1<<36 {
			t.Fatalf("%s: %v, %+v", name, err, tab)
		}
		if f.read.Load() > maxRead {
			t.Errorf("%s: read %d bytes of a %d-byte file", name, f.read.Load(), f.size)
		}
	}
}
