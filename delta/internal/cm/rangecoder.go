package cm

import "errors"

// ErrFormat is returned for coded data that does not decode to the
// expected bytes ending exactly at the data's end.
var ErrFormat = errors.New("malformed adaptive block")

// The binary arithmetic coder is the carry-less range coder of lpaq1
// (Matt Mahoney): a 32-bit interval [x1, x2] split at a point given by
// a 12-bit probability that the next bit is 1; the leading bytes that
// x1 and x2 share are final and are shifted out.

// A rangeCoder codes (initEncode, finish) or decodes (initDecode, done),
// the bits being coded in Model.codeByte with shift.
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

// shift shifts out the leading bytes that the interval's ends x1 and x2
// share: written to the coding (decode false) or, decoding, as many
// bytes of it read into x. The caller (Model.codeByte) splits the
// interval at p = P(y = 1) in 1/4096 (1 .. 4095): xmid = x1 +
// (x2-x1)>>12*p, y = 1 keeps [x1, xmid], y = 0 [xmid+1, x2]; the
// decoder reads y = 1 when x <= xmid. Out of line, as it runs once a
// byte or so, and returns the interval to keep it in registers there.
//
//go:noinline
func (e *rangeCoder) shift(x1, x2, x uint32, decode bool) (uint32, uint32, uint32) {
	for (x1^x2)&0xff000000 == 0 {
		if decode {
			x = x<<8 | uint32(e.next())
		} else {
			e.out = append(e.out, byte(x2>>24))
		}
		x1 <<= 8
		x2 = x2<<8 | 255
	}
	return x1, x2, x
}

// done tells whether the decoder consumed its input exactly, as the
// encoder's finish leaves it.
func (d *rangeCoder) done() bool {
	return d.over == 0 && d.pos == len(d.in)
}
