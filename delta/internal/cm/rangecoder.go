package cm

import "errors"

// ErrFormat is returned for coded data that does not decode to the
// expected bytes ending exactly at the data's end.
var ErrFormat = errors.New("malformed adaptive block")

// The binary arithmetic coder is the carry-less range coder of lpaq1
// (Matt Mahoney): a 32-bit interval [x1, x2] split at a point given by
// a 12-bit probability that the next bit is 1; the leading bytes that
// x1 and x2 share are final and are shifted out.

// A rangeCoder codes (initEncode, encode, finish) or decodes
// (initDecode, decode, done).
type rangeCoder struct {
	x1, x2, x uint32
	out       []byte // coding
	in        []byte // decoding
	pos       int
	// over counts the bytes read past the end of in (read as 0): coded
	// data that a valid encoder wrote never needs them.
	over int
}

func (e *rangeCoder) initEncode(dst []byte) {
	e.x1, e.x2, e.out = 0, 0xffffffff, dst
}

// encode codes bit y (0 or 1) with p = P(y = 1) in 1/4096 (1 .. 4095).
func (e *rangeCoder) encode(y int, p uint32) {
	xmid := e.x1 + (e.x2-e.x1)>>12*p
	if y != 0 {
		e.x2 = xmid
	} else {
		e.x1 = xmid + 1
	}
	for (e.x1^e.x2)&0xff000000 == 0 {
		e.out = append(e.out, byte(e.x2>>24))
		e.x1 <<= 8
		e.x2 = e.x2<<8 | 255
	}
}

// finish writes x1's four bytes: any value in [x1, x2] decodes the same,
// and four bytes let the decoder consume exactly what was written.
func (e *rangeCoder) finish() []byte {
	x := e.x1
	return append(e.out, byte(x>>24), byte(x>>16), byte(x>>8), byte(x))
}

func (d *rangeCoder) initDecode(in []byte) {
	d.x1, d.x2, d.in, d.pos, d.over = 0, 0xffffffff, in, 0, 0
	for i := 0; i < 4; i++ {
		d.x = d.x<<8 | uint32(d.next())
	}
}

func (d *rangeCoder) next() byte {
	if d.pos < len(d.in) {
		b := d.in[d.pos]
		d.pos++
		return b
	}
	d.over++
	return 0
}

func (d *rangeCoder) decode(p uint32) int {
	xmid := d.x1 + (d.x2-d.x1)>>12*p
	y := 0
	if d.x <= xmid {
		y = 1
		d.x2 = xmid
	} else {
		d.x1 = xmid + 1
	}
	if (d.x1^d.x2)&0xff000000 == 0 {
		d.shift()
	}
	return y
}

// shift shifts out the leading bytes that x1 and x2 share, reading as
// many: out of decode, which is then small enough to be inlined.
//
//go:noinline
func (d *rangeCoder) shift() {
	for (d.x1^d.x2)&0xff000000 == 0 {
		d.x1 <<= 8
		d.x2 = d.x2<<8 | 255
		d.x = d.x<<8 | uint32(d.next())
	}
}

// done tells whether the decoder consumed its input exactly, as the
// encoder's finish leaves it.
func (d *rangeCoder) done() bool {
	return d.over == 0 && d.pos == len(d.in)
}
