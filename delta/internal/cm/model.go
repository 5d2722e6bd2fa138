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
	recip      [countLimit + 1]int32
)

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
	for i := range recip {
		recip[i] = int32(65536 * 2 / (2*i + 3))
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
	apm    [Classes * 256 * apmBuckets]uint16

	// The current bit's contexts and predictions.
	base0, base1, base2 int
	s0, s1, s2          int32
	pr                  int32
	apmAt               int
	apmW                int32
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
	for i := 0; i < len(m.apm); i += apmBuckets {
		for j := 0; j < apmBuckets; j++ {
			m.apm[i+j] = uint16(squash(int32((j-16)*128)) * 16)
		}
	}
}

// predict returns the probability (1/4096) that the next bit of the
// byte is 1, node being 1 followed by the byte's bits so far.
func (m *Model) predict(node int) uint32 {
	m.s0 = int32(stretchTab[m.o0[m.base0+node]>>20])
	m.s1 = int32(stretchTab[m.o1[m.base1+node]>>20])
	w := &m.w[m.base0+node]
	m.s2 = int32(stretchTab[m.hashed[m.base2+node]>>20])
	dot := int64(m.s0)*int64(w[0]) + int64(m.s1)*int64(w[1]) + int64(m.s2)*int64(w[2]) + 256*int64(w[3])
	m.pr = squash(int32(dot >> 16))
	s := int32(stretchTab[m.pr]) + 2048
	m.apmAt = (m.base0+node)*apmBuckets + int(s>>7)
	m.apmW = s & 127
	a := (int32(m.apm[m.apmAt])*(128-m.apmW) + int32(m.apm[m.apmAt+1])*m.apmW) >> 11
	return uint32(min(max((m.pr+3*a)>>2, 1), 4095))
}

// update trains the models on bit y of node.
func (m *Model) update(node, y int) {
	err := int32(y<<12) - m.pr
	w := &m.w[m.base0+node]
	w[0] += (m.s0 * err) >> learnShift
	w[1] += (m.s1 * err) >> learnShift
	w[2] += (m.s2 * err) >> learnShift
	w[3] += (256 * err) >> learnShift
	adapt(&m.hashed[m.base2+node], y)
	adapt(&m.o0[m.base0+node], y)
	adapt(&m.o1[m.base1+node], y)
	g := int32(y) << 16
	a := &m.apm[m.apmAt]
	*a = uint16(int32(*a) + ((g-int32(*a))>>apmRate)*(128-m.apmW)>>7)
	b := &m.apm[m.apmAt+1]
	*b = uint16(int32(*b) + ((g-int32(*b))>>apmRate)*m.apmW>>7)
}

// adapt moves a context's probability (top 22 bits) towards bit y by
// 1/(n+1.5), n being its count (low 10 bits).
func adapt(t *uint32, y int) {
	n := *t & 1023
	p := int64(*t >> 10)
	p += ((int64(y)<<22 - p) * int64(recip[n])) >> 16
	if n < countLimit {
		n++
	}
	*t = uint32(p)<<10 | n
}

// An Encoder codes blocks span by span: Begin, Span for each span in
// order, then Finish, after which Undo may take the block back. The
// model carries over from one block to the next until Reset.
type Encoder struct {
	m, saved    *Model
	rc          encoder
	prev, prev2 [Classes]byte
	last        []byte
	savedValid  bool
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
	e.rc.init(dst)
	e.prev, e.prev2, e.last = [Classes]byte{}, [Classes]byte{}, nil
}

// Undo puts the model back as it was before the last block, which the
// caller does not keep.
func (e *Encoder) Undo() {
	if e.savedValid {
		e.m, e.saved = e.saved, e.m
		e.savedValid = false
	}
}

// Span codes the bytes of a span of class c (< Classes).
func (e *Encoder) Span(raw []byte, c uint8) {
	m := e.m
	m.base0 = int(c) << 8
	p, p2 := e.prev[c], e.prev2[c]
	sib := e.last
	if len(sib) != len(raw) {
		sib = nil
	}
	for i, b := range raw {
		m.base1 = (m.base0 | int(p)) << 8
		var sb byte
		if sib != nil {
			sb = sib[i]
		}
		m.base2 = hashedBase(m.base1, p2, sb)
		node := 1
		for j := 7; j >= 0; j-- {
			y := int(b>>j) & 1
			e.rc.code(y, m.predict(node))
			m.update(node, y)
			node = node<<1 | y
		}
		p2, p = p, b
	}
	e.prev[c], e.prev2[c] = p, p2
	e.last = raw
}

// Finish returns dst with the block's coding appended.
func (e *Encoder) Finish() []byte { return e.rc.finish() }

// A Decoder decodes blocks span by span: Begin, Span for each span in
// order, then Finish. The model carries over from one block to the next
// until Reset.
type Decoder struct {
	m           *Model
	rc          decoder
	prev, prev2 [Classes]byte
	last        []byte
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
	d.rc.init(data)
	d.prev, d.prev2, d.last = [Classes]byte{}, [Classes]byte{}, nil
}

// Span decodes len(out) bytes of class c (< Classes) into out. It fails
// once the coding has run past the end of its data.
func (d *Decoder) Span(out []byte, c uint8) error {
	m := d.m
	m.base0 = int(c) << 8
	p, p2 := d.prev[c], d.prev2[c]
	sib := d.last
	if len(sib) != len(out) {
		sib = nil
	}
	for i := range out {
		m.base1 = (m.base0 | int(p)) << 8
		var sb byte
		if sib != nil {
			sb = sib[i]
		}
		m.base2 = hashedBase(m.base1, p2, sb)
		node := 1
		for j := 0; j < 8; j++ {
			y := d.rc.decode(m.predict(node))
			m.update(node, y)
			node = node<<1 | y
		}
		p2, p = p, byte(node)
		out[i] = p
	}
	d.prev[c], d.prev2[c] = p, p2
	d.last = out
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

// hashedBase is the base of the hashed context's node tree: the class,
// the previous byte of the class, the byte at the same index of the
// span before (same length) and the byte before the previous, hashed
// into hashedBits bits.
func hashedBase(base1 int, p2, sib byte) int {
	x := uint32(base1|int(sib))<<8 | uint32(p2)
	return int((x*0x9E3779B1)>>(32-hashedBits)) << 8
}
