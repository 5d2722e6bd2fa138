// Package delta computes and applies binary patches between two versions
// of a file, built for machine-learning model files: bsdiff-style copy,
// add and insert regions where data matched or moved, and aligned word
// coding (XOR or difference of 1-, 2- or 4-byte words, byte-plane
// shuffled) where weights moved a little in place, chosen per region.
//
// The package knows nothing of TUF: a patch names the length and SHA-256
// (compact form: its first 8 bytes) of the base it applies to and of the
// target it rebuilds, and Apply checks both, but deciding which patch may
// be applied to which file is the caller's job (the device client trusts
// only patches its signed metadata names, whose hashes it gives Apply).
//
// # Patch format (version 1)
//
// All integers are big-endian unless said otherwise.
//
//	header (96 bytes)
//	  magic          8 bytes  "EDTDELTA"
//	  version        1 byte   1
//	  compressor     1 byte   1 = zstd
//	  reserved       6 bytes  zero
//	  base length    8 bytes
//	  base SHA-256   32 bytes
//	  target length  8 bytes
//	  target SHA-256 32 bytes
//	segments, until their output lengths add up to the target length
//	  output length  4 bytes  1 .. MaxSegment bytes of target this segment rebuilds
//	  control length 4 bytes  compressed sizes of the three streams that follow
//	  diff length    4 bytes
//	  extra length   4 bytes
//	  control stream (zstd), diff stream, extra stream (each a zstd frame
//	  or an FSE stream, told apart by their first four bytes, or empty
//	  when its length is 0)
//	end of file: nothing may follow the last segment
//
// A tiny patch has a compact form (package delta/internal/head): a short
// header with 8-byte hash prefixes, one segment's streams with no segment
// header, each stored as is when smaller, and records packed.
//
// The control stream is a list of records, in target order, each a
// sequence of unsigned varints (encoding/binary):
//
//	op      0 COPY, 1 XOR, 2 SUB, 3 INSERT
//	width   XOR, SUB and INSERT only: 1, 2 or 4
//	length  bytes of target the record produces, at least 1
//	offset  COPY, XOR and SUB only: where in the base the region starts
//
// COPY copies length bytes of the base. INSERT copies length bytes of
// the extra stream. XOR and SUB read length bytes of the diff stream and
// combine them with the base: XOR byte by byte; SUB adds, modulo
// 2^(8*width), the difference new - old of little-endian words of width
// bytes, stored zigzag-encoded ((d << 1) ^ (d >> (8*width-1)), as
// protocol buffers do) so that small differences of either sign have zero
// high bytes (width 1 is bsdiff's add, up to that bijection). For
// width w > 1 the record must start and end at target offsets that are
// multiples of w, and its stream bytes are byte-plane shuffled in blocks
// of ShuffleBlock target bytes (blocks start at target offsets that are
// multiples of ShuffleBlock, clipped to the record): within a block,
// first the bytes at target offsets with offset%w == 0, then those with
// offset%w == 1, and so on, each plane in target order. The sign and
// exponent bytes of float weights land together, where they compress
// away; INSERT uses the same shuffle for new weights that match nothing.
//
// An FSE stream (fsestream.go) starts with "EDF1" and holds blocks, each
//
//	mode         1 byte   0 .. 8, below
//	raw length   4 bytes  bytes the block decodes to, 1 .. 256 KiB
//	data length  4 bytes  at most 256 KiB; the raw length when stored, 1
//	                      when one byte repeated
//	data
//
// stored (mode 0), order-0 coded with finite state entropy (1), one byte
// repeated (2), split into byte planes coded with a table each (3,
// planes: up to 8 classes, each class's block in mode 0, 1, 2, 4, 5 or
// 7), Huffman coded (4: raw length below 256 KiB), packed as 1-, 2- or
// 4-bit symbols into an inner block of mode 0, 1, 2 or 4 (5), zstd
// frames with a window of at most 256 KiB (6) or split by a bucket of
// the previous byte into 2 to 16 sub-streams coded with a table each (7,
// context: order-1 coding of weight planes whose bytes depend on their
// neighbours; each sub-stream's block in mode 0, 1, 2 or 4) or coded by
// an adaptive context-mixing model with a binary range coder (8,
// adaptive: spans as in mode 3, then the coding, which must end exactly
// at the data's end; the raw length is the header's, the model has no
// parameters in the block, and it carries over from one adaptive block
// to the next of the same stream); package delta/internal/fseblock
// documents the layout of their data. Diff uses it instead of one zstd
// frame for a stream of bytes that never repeat but are skewed, such as
// new weights and the planes of small differences, with zstd blocks
// where repeats are. Modes 3 to 8 are an extension of format 1: every
// patch written before them still applies.
//
// The records of a segment produce exactly its output length. Every
// offset and length is checked against the base and the target before it
// is used; a patch that points outside them is an error, never a panic.
package delta
