// Package cm codes blocks of bytes with an adaptive binary context
// model: each byte is coded a bit at a time, most significant first, by
// a binary range coder (rangecoder.go), with the probability of each bit
// predicted by three adaptive models that a logistic mixer combines and
// an adaptive probability map refines. It is a small instance of the
// context-mixing coders of Matt Mahoney's lpaq1 (documented in its
// source and in "Data Compression Explained"), written for byte planes
// of weights: unlike static tables it follows probabilities that drift
// within a block (one tensor's scale to the next).
//
// Each byte belongs to a class (a byte plane: the sign and exponent
// bytes of fp16 weights, their low mantissa bytes, ...) and is coded in
// spans of one class. The models are
//
//   - order 0: the class and the bits of the byte seen so far;
//   - order 1: the class, the previous byte of the same class and the
//     bits seen so far;
//   - hashed: the class, the previous two bytes of the class and the
//     sibling byte (at the same index of the span before, when that span
//     is as long: the other byte of the same fp16 word, for a shuffled
//     piece), hashed to hashedBits bits, and the bits seen so far.
//
// Each keeps per context a 22-bit probability and a count: a context
// seen n times moves 1/(n+1.5) of the way to each bit, until n reaches
// countLimit, so a new context learns fast and an old one tracks drift.
// The mixer adds the predictions' stretches (ln(p/(1-p))) and a bias
// with weights chosen by class and bits so far, trained online to
// minimise coding cost; the map (APM) then corrects the mixed
// probability per class and bits so far, interpolating between 33
// buckets of its stretch.
//
// Measured on the extra streams of pose-bundle, facemesh-bundle and
// hands-swap-bundle (docs/delta.md section 5), all coded this way:
// 7.5%, 1.4% and 1.7% smaller than with the static tables of package
// fseblock. Order 0 and 1 alone, with the map, gave 7.3%, 1.1% and 1.3%;
// without the map 0.3% less; a sibling or an order-2 context on its own
// instead of the hashed one 0.1-0.2% less.
//
// The model carries over from one block to the next of a stream (it is
// reset at the stream's start), so that the coder must undo a block it
// does not keep (Encoder.Undo). Everything is integer arithmetic, so the
// coder and the decoder agree on every machine.
package cm

const (
	// Classes is how many kinds of byte the model tells apart.
	Classes = 8
	// countLimit caps a context's count: its rate of adaptation stays
	// at least 1/(countLimit+1.5). 30 against 15 and 127: measured on
	// the three real pairs, within 0.1%.
	countLimit = 30
	// learnShift sets the mixer's learning rate (2^-learnShift of
	// stretch times error); 10 against 9 and 11, within 0.2%.
	learnShift = 10
	nInputs    = 4 // order 0, order 1, hashed, bias
	// hashedBits sizes the hashed context's table: 2^hashedBits node
	// trees.
	hashedBits = 10
	// apmRate sets the map's rate of adaptation (2^-apmRate); 7
	// against 5 and 6: 0.05-0.2% smaller.
	apmRate    = 7
	apmBuckets = 33
)

// TableBytes is the memory a Model holds: 3.2 MiB.
const TableBytes = 4*Classes*256*(1+256) + 4<<hashedBits<<8 + 4*nInputs*Classes*256 + 2*apmBuckets*Classes*256

var (
	stretchTab [4096]int16
	squashTab  [4096]int16
	// mixedTab holds for x in -2047 .. 2047, at x+2048, squash(x) and,
	// shifted by 16, stretch(squash(x))+2048: what the mixer's output
	// gives the APM, in one load instead of three.
	mixedTab [4096]uint32
	// recip is sized to a power of two so that a count masked with
	// countMask needs no bounds check (counts never exceed countLimit).
	recip [countMask + 1]int32
)

const countMask = 31

func init() {
	// squash(x) = 4096/(1+e^-x/256), x in -2047 .. 2047; stretch is its
	// inverse. Computed in integers (a rational approximation of the
	// exponential by interpolation, as lpaq1 does), so that every
	// machine builds the same tables.
	ts := [33]int32{1, 2, 3, 6, 10, 16, 27, 45, 73, 120, 194, 310, 488, 747, 1101,
		1546, 2047, 2549, 2994, 3348, 3607, 3785, 3901, 3975, 4024,
		4050, 4068, 4079, 4085, 4089, 4092, 4093, 4094}
	for i := range squashTab {
		x := int32(i - 2048)
		w := x & 127
		v := (ts[(x+2048)>>7]*(128-w) + ts[(x+2048)>>7+1]*w + 64) >> 7
		squashTab[i] = int16(min(max(v, 1), 4095))
	}
	pi := 0
	for x := -2047; x <= 2047; x++ {
		v := int(squash(int32(x)))
		for j := pi; j <= v; j++ {
			stretchTab[j] = int16(x)
		}
		pi = max(pi, v+1)
	}
	for j := pi; j < 4096; j++ {
		stretchTab[j] = 2047
	}
	for i := 0; i <= countLimit; i++ {
		recip[i] = int32(65536 * 2 / (2*i + 3))
	}
	for i := range mixedTab {
		sq := squash(int32(i - 2048))
		mixedTab[i] = uint32(sq) | uint32(int32(stretchTab[sq])+2048)<<16
	}
}

func squash(x int32) int32 {
	x = min(max(x, -2047), 2047)
	return int32(squashTab[x+2048])
}

// Model holds the adaptive tables (TableBytes); made once, it is reset
// for every block.
type Model struct {
	o0     [Classes * 256]uint32
	o1     []uint32 // Classes * 256 * 256
	hashed []uint32 // 256 << hashedBits
	w      [Classes * 256][nInputs]int32
	apm    [Classes * 256][apmBuckets]uint16
}

func newModel() *Model {
	return &Model{o1: make([]uint32, Classes*256*256), hashed: make([]uint32, 256<<hashedBits)}
}

func (m *Model) copyFrom(o *Model) {
	m.o0, m.w, m.apm = o.o0, o.w, o.apm
	copy(m.o1, o.o1)
	copy(m.hashed, o.hashed)
}

func (m *Model) reset() {
	for i := range m.o0 {
		m.o0[i] = 1 << 31
	}
	for i := range m.o1 {
		m.o1[i] = 1 << 31
	}
	for i := range m.hashed {
		m.hashed[i] = 1 << 31
	}
	for i := range m.w {
		m.w[i] = [nInputs]int32{22000, 22000, 22000, 0}
	}
	for i := range m.apm {
		for j := range m.apm[i] {
			m.apm[i][j] = uint16(squash(int32((j-16)*128)) * 16)
		}
	}
}

// codeByte codes byte b (decode false) or decodes a byte (decode true)
// with the range coder rc, in the contexts of class c, previous byte
// prev and hashed context base2, and returns it. For each bit, most
// significant first, node is 1 followed by the bits so far: the three
// models' predictions are mixed, refined by the APM, the bit is coded
// with that probability and every model is trained on it. One function
// for both directions, written out, is what keeps the coder and the
// decoder in step, and the bit loop free of calls.
//
// The loop is written for speed (docs/delta.md section 5, "Decoding
// speed (round 4)"): the byte's rows of every table are taken once, so
// that each bit indexes them with node alone; each slot is loaded once
// and its new value computed from that load; the coder's interval lives
// in registers, written back only to shift bytes out.
func (m *Model) codeByte(rc *rangeCoder, c, prev, base2 int, b int, decode bool) int {
	row := (c & (Classes - 1)) << 8
	t0s := (*[256]uint32)(m.o0[row:])
	t1s := (*[256]uint32)(m.o1[(row|prev&255)<<8:])
	t2s := (*[256]uint32)(m.hashed[base2&(256<<hashedBits-256):])
	ws := (*[256][nInputs]int32)(m.w[row:])
	apms := (*[256][apmBuckets]uint16)(m.apm[row:])
	x1, x2, x := rc.x1, rc.x2, rc.x
	bits := uint32(b) << 24 // coding: the next bit on top
	node := uint(1)
	v0, v1, v2 := t0s[1], t1s[1], t2s[1]
	for node < 256 {
		n := node
		// The slots of both children, loaded before the bit that
		// chooses between them is known.
		kid := n << 1 & 255
		l0, l1, l2 := t0s[kid], t1s[kid], t2s[kid]
		r0, r1, r2 := t0s[kid|1], t1s[kid|1], t2s[kid|1]
		s0 := int32(stretchTab[v0>>20])
		s1 := int32(stretchTab[v1>>20])
		s2 := int32(stretchTab[v2>>20])
		w := &ws[n]
		dot := int64(s0)*int64(w[0]) + int64(s1)*int64(w[1]) + int64(s2)*int64(w[2]) + 256*int64(w[3])
		sq := mixedTab[uint(min(max(int32(dot>>16), -2047), 2047)+2048)&4095]
		pr := int32(sq & 4095)
		st := uint(sq>>16) & 4095
		ap := &apms[n]
		aw := int32(st & 127)
		k := st >> 7
		a0, a1 := int32(ap[k]), int32(ap[k+1])
		a := (a0<<7 + (a1-a0)*aw) >> 11 // a0*(128-aw) + a1*aw
		p := uint32(min(max((pr+3*a)>>2, 1), 4095))
		xmid := x1 + (x2-x1)>>12*p
		var y int
		if decode {
			if x <= xmid {
				y = 1
			}
		} else {
			y = int(bits >> 31)
			bits <<= 1
		}
		// Without a branch: y is as hard to predict as the data.
		keep := uint32(y) - 1 // 0 for y = 1, all ones for y = 0
		x2 = xmid ^ (xmid^x2)&keep
		x1 = x1 ^ (x1^(xmid+1))&keep
		if (x1^x2)&0xff000000 == 0 {
			x1, x2, x = rc.shift(x1, x2, x, decode)
		}
		err := int32(y<<12) - pr
		w[0] += (s0 * err) >> learnShift
		w[1] += (s1 * err) >> learnShift
		w[2] += (s2 * err) >> learnShift
		w[3] += (256 * err) >> learnShift
		t0s[n], t1s[n], t2s[n] = adapted(v0, y), adapted(v1, y), adapted(v2, y)
		right := -uint32(y)
		v0, v1, v2 = l0^(l0^r0)&right, l1^(l1^r1)&right, l2^(l2^r2)&right
		g := int32(y) << 16
		ap[k] = uint16(a0 + ((g-a0)>>apmRate)*(128-aw)>>7)
		ap[k+1] = uint16(a1 + ((g-a1)>>apmRate)*aw>>7)
		node = node<<1 | uint(y)
	}
	rc.x1, rc.x2, rc.x = x1, x2, x
	return int(node & 255)
}

// adapted is a context's slot t moved towards bit y: its probability
// (top 22 bits) by 1/(n+1.5), n being its count (low 10 bits).
func adapted(t uint32, y int) uint32 {
	n := t & 1023
	p := int64(t >> 10)
	p += ((int64(y)<<22 - p) * int64(recip[n&countMask])) >> 16
	if n < countLimit {
		n++
	}
	return uint32(p)<<10 | n
}

// spanState is what a block's coding carries from one span to the next:
// the last two bytes of each class, and the span before.
type spanState struct {
	prev, prev2 [Classes]byte
	last        []byte
}

// span codes (decode false) or decodes into buf the bytes of a span of
// class c.
func (m *Model) span(st *spanState, rc *rangeCoder, buf []byte, c uint8, decode bool) {
	p, p2 := st.prev[c&(Classes-1)], st.prev2[c&(Classes-1)]
	sib := st.last
	if len(sib) != len(buf) {
		sib = nil
	}
	for i := range buf {
		var sb byte
		if sib != nil {
			sb = sib[i]
		}
		b := byte(m.codeByte(rc, int(c), int(p), hashedBase(int(c&(Classes-1)), p, p2, sb), int(buf[i]), decode))
		if decode {
			buf[i] = b
		}
		p2, p = p, b
	}
	st.prev[c&(Classes-1)], st.prev2[c&(Classes-1)] = p, p2
	st.last = buf
}

// An Encoder codes blocks span by span: Begin, Span for each span in
// order, then Finish, after which Undo may take the block back. The
// model carries over from one block to the next until Reset.
type Encoder struct {
	m, saved   *Model
	rc         rangeCoder
	st         spanState
	savedValid bool
}

// NewEncoder returns an encoder with a model of its own, reset.
func NewEncoder() *Encoder {
	e := &Encoder{m: newModel(), saved: newModel()}
	e.Reset()
	return e
}

// Reset resets the model, as at the start of a stream.
func (e *Encoder) Reset() {
	e.m.reset()
	e.savedValid = false
}

// Begin starts a block, its coding to be appended to dst.
func (e *Encoder) Begin(dst []byte) {
	e.saved.copyFrom(e.m)
	e.savedValid = true
	e.rc.initEncode(dst)
	e.st = spanState{}
}

// Undo puts the model back as it was before the last block, which the
// caller does not keep.
func (e *Encoder) Undo() {
	if e.savedValid {
		e.m, e.saved = e.saved, e.m
		e.savedValid = false
	}
}

// Span codes the bytes of a span of class c (< Classes); raw is not
// modified.
func (e *Encoder) Span(raw []byte, c uint8) { e.m.span(&e.st, &e.rc, raw, c, false) }

// Finish returns dst with the block's coding appended.
func (e *Encoder) Finish() []byte { return e.rc.finish() }

// A Decoder decodes blocks span by span: Begin, Span for each span in
// order, then Finish. The model carries over from one block to the next
// until Reset.
type Decoder struct {
	m  *Model
	rc rangeCoder
	st spanState
}

// NewDecoder returns a decoder with a model of its own, reset.
func NewDecoder() *Decoder {
	d := &Decoder{m: newModel()}
	d.m.reset()
	return d
}

// Reset resets the model, as at the start of a stream.
func (d *Decoder) Reset() { d.m.reset() }

// Begin starts a block coded in data.
func (d *Decoder) Begin(data []byte) {
	d.rc.initDecode(data)
	d.st = spanState{}
}

// Span decodes len(out) bytes of class c (< Classes) into out. It fails
// once the coding has run past the end of its data.
func (d *Decoder) Span(out []byte, c uint8) error {
	d.m.span(&d.st, &d.rc, out, c, true)
	if d.rc.over > 0 {
		return ErrFormat
	}
	return nil
}

// Finish tells whether the block's data was consumed exactly: ErrFormat
// if not.
func (d *Decoder) Finish() error {
	if !d.rc.done() {
		return ErrFormat
	}
	return nil
}

// hashedBase is the base of the hashed context's node tree: the class c,
// the previous byte p of the class, the byte at the same index of the
// span before (same length) and the byte before the previous, hashed
// into hashedBits bits.
func hashedBase(c int, p, p2, sib byte) int {
	x := uint32(c<<16|int(p)<<8|int(sib))<<8 | uint32(p2)
	return int((x*0x9E3779B1)>>(32-hashedBits)) << 8
}
