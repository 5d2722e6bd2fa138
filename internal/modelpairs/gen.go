package modelpairs

import (
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
)

// chunkSize is the granularity of every random stream: chunk i of a
// stream is drawn from its own generator, so any byte range of a stream
// can be produced independently of the others.
const chunkSize = 64 << 10

// pieceSize is how much of a file one worker produces at a time.
const pieceSize = 1 << 20

// source is an infinite deterministic byte stream.
type source interface {
	// fill writes to dst the bytes of the stream at offsets off onwards.
	fill(dst []byte, off int64)
}

// span is n bytes of a file taken from src starting at offset at; pos is
// where the span starts in the file (set by place).
type span struct {
	n   int64
	src source
	at  int64
	pos int64
}

func sp(n int64, src source, at int64) span { return span{n: n, src: src, at: at} }

// file is the concatenation of its spans.
type file []span

// place sets the pos of every span and returns f.
func place(f file) file {
	var pos int64
	for i := range f {
		f[i].pos = pos
		pos += f[i].n
	}
	return f
}

func (f file) size() int64 {
	if len(f) == 0 {
		return 0
	}
	return f[len(f)-1].pos + f[len(f)-1].n
}

// fill writes to dst the bytes of f at offsets off onwards.
func (f file) fill(dst []byte, off int64) {
	i := sort.Search(len(f), func(k int) bool { return f[k].pos+f[k].n > off })
	for ; len(dst) > 0 && i < len(f); i++ {
		s := f[i]
		in := off - s.pos
		n := int(min(int64(len(dst)), s.n-in))
		if n > 0 {
			s.src.fill(dst[:n], s.at+in)
			dst, off = dst[n:], off+int64(n)
		}
	}
}

// writeTo writes f to w in pieces generated in parallel and written in
// order; memory is two pieces per CPU.
func (f file) writeTo(w io.Writer) error {
	size := f.size()
	workers := runtime.GOMAXPROCS(0)
	batch := 2 * workers
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, pieceSize)
	}
	for off := int64(0); off < size; {
		n := 0
		var wg sync.WaitGroup
		sem := make(chan struct{}, workers)
		for ; n < batch && off < size; n++ {
			b := bufs[n][:min(pieceSize, size-off)]
			bufs[n] = b
			wg.Add(1)
			sem <- struct{}{}
			go func(b []byte, off int64) {
				defer wg.Done()
				f.fill(b, off)
				<-sem
			}(b, off)
			off += int64(len(b))
		}
		wg.Wait()
		for _, b := range bufs[:n] {
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		for i := range bufs {
			bufs[i] = bufs[i][:pieceSize]
		}
	}
	return nil
}

// fixed is a stream that is a byte slice followed by zeros.
type fixed []byte

func (s fixed) fill(dst []byte, off int64) {
	n := 0
	if off < int64(len(s)) {
		n = copy(dst, s[off:])
	}
	clear(dst[n:])
}

// chunked produces a stream chunk by chunk with gen, which fills one
// whole chunk (chunkSize bytes) given its index.
func chunked(dst []byte, off int64, gen func(chunk []byte, idx int64)) {
	var scratch []byte
	for len(dst) > 0 {
		idx, in := off/chunkSize, int(off%chunkSize)
		n := min(len(dst), chunkSize-in)
		if n == chunkSize {
			gen(dst[:chunkSize], idx)
		} else {
			if scratch == nil {
				scratch = make([]byte, chunkSize)
			}
			gen(scratch, idx)
			copy(dst[:n], scratch[in:])
		}
		dst, off = dst[n:], off+int64(n)
	}
}

// newRand returns the generator of chunk idx of a stream.
func newRand(seed, stream uint64, idx int64) *rand.PCG {
	return rand.NewPCG(splitmix(seed^splitmix(stream)), splitmix(uint64(idx)^splitmix(stream<<32^seed)))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// normalKnots holds the standard normal quantiles at probabilities
// (k+0.5)/(2^16+1), k = 0 .. 2^16. normal32 maps 32 random bits to a
// standard normal value by linear interpolation between two knots (16
// bits choose the knots, 16 bits the point between them): the inverse CDF
// to within 1e-4 over |z| < 4, cut at |z| = 4.33. It is four times as
// fast as rand.NormFloat64 and plenty for weight-like data.
var normalKnots = sync.OnceValue(func() *[1<<16 + 1]float32 {
	var q [1<<16 + 1]float32
	for k := range q {
		p := (float64(k) + 0.5) / (1<<16 + 1)
		q[k] = float32(math.Sqrt2 * math.Erfinv(2*p-1))
	}
	return &q
})

func normal32(q *[1<<16 + 1]float32, u uint32) float32 {
	i, f := u>>16, float32(u&0xffff)*(1.0/(1<<16))
	return q[i] + (q[i+1]-q[i])*f
}

// weightStd is the standard deviation of float weights.
const weightStd = 0.05

// floats is a stream of little-endian float32 weights ~ normal(0, 0.05).
type floats struct{ seed, stream uint64 }

func (s floats) fill(dst []byte, off int64) { chunked(dst, off, s.gen) }

func (s floats) gen(chunk []byte, idx int64) {
	q := normalKnots()
	r := newRand(s.seed, s.stream, idx)
	for i := 0; i+8 <= len(chunk); i += 8 {
		u := r.Uint64()
		binary.LittleEndian.PutUint32(chunk[i:], math.Float32bits(normal32(q, uint32(u))*weightStd))
		binary.LittleEndian.PutUint32(chunk[i+4:], math.Float32bits(normal32(q, uint32(u>>32))*weightStd))
	}
}

// finetuned is the stream of weights w times (1 + e), e ~ normal(0,
// 0.001), for the weights w of floats{seed, base}.
type finetuned struct{ seed, base, noise uint64 }

func (s finetuned) fill(dst []byte, off int64) { chunked(dst, off, s.gen) }

func (s finetuned) gen(chunk []byte, idx int64) {
	floats{s.seed, s.base}.gen(chunk, idx)
	q := normalKnots()
	r := newRand(s.seed, s.noise, idx)
	for i := 0; i+8 <= len(chunk); i += 8 {
		u := r.Uint64()
		w0 := float64(math.Float32frombits(binary.LittleEndian.Uint32(chunk[i:])))
		w1 := float64(math.Float32frombits(binary.LittleEndian.Uint32(chunk[i+4:])))
		w0 *= 1 + 0.001*float64(normal32(q, uint32(u)))
		w1 *= 1 + 0.001*float64(normal32(q, uint32(u>>32)))
		binary.LittleEndian.PutUint32(chunk[i:], math.Float32bits(float32(w0)))
		binary.LittleEndian.PutUint32(chunk[i+4:], math.Float32bits(float32(w1)))
	}
}

// int8s is a stream of int8 weights round(z*40) clamped to [-128, 127],
// z ~ normal(0, 1), drawn through a table of the normal quantiles.
type int8s struct{ seed, stream uint64 }

var int8Table = sync.OnceValue(func() *[1 << 16]byte {
	var t [1 << 16]byte
	for u := range t {
		p := (float64(u) + 0.5) / (1 << 16)
		z := math.Sqrt2 * math.Erfinv(2*p-1)
		q := math.Max(-128, math.Min(127, math.Round(z*40)))
		t[u] = byte(int8(q))
	}
	return &t
})

func (s int8s) fill(dst []byte, off int64) { chunked(dst, off, s.gen) }

func (s int8s) gen(chunk []byte, idx int64) {
	t := int8Table()
	r := newRand(s.seed, s.stream, idx)
	for i := 0; i+8 <= len(chunk); i += 8 {
		u := r.Uint64()
		chunk[i] = t[uint16(u)]
		chunk[i+1] = t[uint16(u>>16)]
		chunk[i+2] = t[uint16(u>>32)]
		chunk[i+3] = t[uint16(u>>48)]
		u = r.Uint64()
		chunk[i+4] = t[uint16(u)]
		chunk[i+5] = t[uint16(u>>16)]
		chunk[i+6] = t[uint16(u>>32)]
		chunk[i+7] = t[uint16(u>>48)]
	}
}

// uniform is a stream of uniformly random bytes.
type uniform struct{ seed, stream uint64 }

func (s uniform) fill(dst []byte, off int64) { chunked(dst, off, s.gen) }

func (s uniform) gen(chunk []byte, idx int64) {
	r := newRand(s.seed, s.stream, idx)
	for i := 0; i+8 <= len(chunk); i += 8 {
		binary.LittleEndian.PutUint64(chunk[i:], r.Uint64())
	}
}
