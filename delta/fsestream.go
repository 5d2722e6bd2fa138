package delta

import (
	"encoding/binary"
	"io"

	"github.com/klauspost/compress/fse"
)

// An FSE stream is the alternative to a zstd frame for a diff or extra
// stream: plain order-0 entropy coding (finite state entropy, the tANS
// coder inside zstd) of blocks of up to fseBlock bytes. zstd's Huffman
// literals are 0.5% above the order-0 entropy of incompressible weight
// bytes (new int8 tensors); FSE gets within 0.1%. Diff keeps whichever
// coding of a stream is smaller, and Apply tells them apart by the first
// four bytes: zstd's frame magic or fseMagic.
//
//	magic  4 bytes "EDF1"
//	blocks, each:
//	  mode        1 byte: 0 stored, 1 FSE, 2 one byte repeated
//	  raw length  4 bytes (big-endian), 1 .. fseBlock
//	  data length 4 bytes (big-endian): raw length when stored, 1 when
//	              repeated, at most fseBlock for FSE
//	  data
const (
	fseMagic  = "EDF1"
	fseBlock  = 256 << 10
	fseStored = 0
	fseFSE    = 1
	fseRLE    = 2
)

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// appendFSE appends the FSE stream coding of raw to dst.
func appendFSE(dst, raw []byte) []byte {
	dst = append(dst, fseMagic...)
	var s fse.Scratch
	for len(raw) > 0 {
		blk := raw[:min(len(raw), fseBlock)]
		raw = raw[len(blk):]
		out, err := fse.Compress(blk, &s)
		mode, data := byte(fseFSE), out
		switch {
		case err == fse.ErrUseRLE:
			mode, data = fseRLE, blk[:1]
		case err != nil || len(out) >= len(blk):
			mode, data = fseStored, blk
		}
		dst = append(dst, mode)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(blk)))
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(data)))
		dst = append(dst, data...)
	}
	return dst
}

// fseReader decodes an FSE stream a block at a time.
type fseReader struct {
	r       io.Reader
	scratch fse.Scratch
	in      []byte
	out     []byte // decoded, not yet read
	hdr     [9]byte
}

func (f *fseReader) reset(r io.Reader) {
	f.r, f.out = r, nil
}

func (f *fseReader) Read(p []byte) (int, error) {
	for len(f.out) == 0 {
		if err := f.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, f.out)
	f.out = f.out[n:]
	return n, nil
}

func (f *fseReader) next() error {
	if _, err := io.ReadFull(f.r, f.hdr[:]); err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return formatErr("FSE stream: truncated block header")
	}
	mode := f.hdr[0]
	rawLen := binary.BigEndian.Uint32(f.hdr[1:])
	dataLen := binary.BigEndian.Uint32(f.hdr[5:])
	if rawLen == 0 || rawLen > fseBlock {
		return formatErr("FSE stream: block of %d bytes", rawLen)
	}
	switch {
	case mode == fseStored && dataLen == rawLen, mode == fseRLE && dataLen == 1, mode == fseFSE && dataLen >= 1 && dataLen <= fseBlock:
	default:
		return formatErr("FSE stream: block mode %d with %d data bytes for %d", mode, dataLen, rawLen)
	}
	if cap(f.in) < fseBlock {
		f.in = make([]byte, fseBlock)
	}
	in := f.in[:dataLen]
	if _, err := io.ReadFull(f.r, in); err != nil {
		return formatErr("FSE stream: truncated block")
	}
	switch mode {
	case fseStored:
		f.out = in
	case fseRLE:
		if cap(f.scratch.Out) < fseBlock {
			f.scratch.Out = make([]byte, fseBlock)
		}
		out := f.scratch.Out[:rawLen]
		for i := range out {
			out[i] = in[0]
		}
		f.out = out
	case fseFSE:
		f.scratch.DecompressLimit = int(rawLen)
		out, err := fse.Decompress(in, &f.scratch)
		if err != nil {
			return formatErr("FSE stream: %v", err)
		}
		if len(out) != int(rawLen) {
			return formatErr("FSE stream: block decodes to %d bytes, header says %d", len(out), rawLen)
		}
		f.out = out
	}
	return nil
}
