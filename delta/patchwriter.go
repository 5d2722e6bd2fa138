// The patch writer: collects records into segments, compresses them and
// writes them to the patch.

package delta

import (
	"io"

	"github.com/edgetuf/edgetuf/delta/internal/fseblock"
	"github.com/edgetuf/edgetuf/delta/internal/head"

	"github.com/klauspost/compress/zstd"
)

// patchWriter collects records into segments and writes them.
type patchWriter struct {
	w      io.Writer
	header Header // written before the first segment, unless compact
	enc    *zstd.Encoder
	// fastEnc, when set, codes diff and extra streams at zstd's default
	// level, whose frames decode about 3x faster than the best level's on
	// weight data; its output is kept unless enc's is bestMinGain smaller.
	fastEnc *zstd.Encoder
	stats   *Stats
	n       int64 // bytes written
	// dump is Options.dump.
	dump func(ctrl, diff, extra []byte)

	ctrl, diff, extra []byte
	outLen            int64
	tmp, tmp2         []byte
	comp              [3][]byte // compressed streams, reused
	fseEnc            fseblock.Encoder
	// diffSpans and extraSpans say which byte plane each byte of the
	// diff and extra streams belongs to, for FSE's tables per plane.
	diffSpans, extraSpans []fseblock.Span
	// trial codes the coder's samples at zstd's fastest level
	// (trialSize); made at first use.
	trial    *zstd.Encoder
	trialOut []byte
	fast     []byte // the losing trial coding, reused
	// streamCap bounds the diff and extra bytes of a segment
	// (segmentStreams): they, not its output, cost Diff memory.
	streamCap int64
}

func (pw *patchWriter) write(b []byte) error {
	n, err := pw.w.Write(b)
	pw.n += int64(n)
	return err
}

// add appends record r producing data (target offset at) to the current
// segment, splitting it at segment boundaries; old is the base window
// starting at oldBase.
func (pw *patchWriter) add(r record, data, old []byte, oldBase, at int64) error {
	if pw.tmp == nil {
		pw.tmp, pw.tmp2 = make([]byte, ShuffleBlock), make([]byte, ShuffleBlock)
	}
	for r.length > 0 {
		// Copies run on while the patch may be compact: one segment.
		room := max(0, segmentOut-pw.outLen)
		if r.op != opCopy {
			room = min(room, pw.streamRoom(at))
		} else if pw.n == 0 && len(pw.ctrl)+len(pw.diff)+len(pw.extra) <= compactStreams {
			room = MaxSegment - pw.outLen
		}
		if room == 0 {
			if err := pw.flush(false); err != nil {
				return err
			}
			continue
		}
		part := r
		part.length = min(r.length, room)
		pw.ctrl = appendRecord(pw.ctrl, part)
		pw.stats.Records++
		switch part.op {
		case opCopy:
			pw.stats.Copied += part.length
		case opInsert:
			pw.stats.Inserted += part.length
		case opXOR:
			pw.stats.XORed += part.length
		case opSub:
			pw.stats.Subbed += part.length
		}
		if part.op != opCopy {
			end := at + part.length
			for pos := at; pos < end; {
				pe := pieceEnd(pos, end)
				n := int(pe - pos)
				src := data[pos-at : pos-at+int64(n)]
				t := pw.tmp[:n]
				switch part.op {
				case opInsert:
					shuffle(t, src, int(part.width))
					pw.extra = append(pw.extra, t...)
					pw.extraSpans = appendPlaneSpans(pw.extraSpans, n, int(part.width))
				default:
					ob := old[part.offset-oldBase+(pos-at):][:n]
					d := pw.tmp2[:n]
					if part.op == opXOR {
						encodeXOR(d, src, ob)
					} else {
						encodeSub(d, src, ob, int(part.width))
					}
					shuffle(t, d, int(part.width))
					pw.diff = append(pw.diff, t...)
					pw.diffSpans = appendPlaneSpans(pw.diffSpans, n, int(part.width))
				}
				pos = pe
			}
		}
		pw.outLen += part.length
		data = data[part.length:]
		at += part.length
		r.length -= part.length
		if r.op != opInsert {
			r.offset += part.length
		}
	}
	return nil
}

// streamRoom is how many target bytes from offset at may still go into
// the current segment's diff and extra streams: up to streamCap bytes
// in all, cut at a shuffle block boundary of the target, which keeps the
// parts of a record aligned to its width. An empty segment has room for
// at least a block (streamCap >= ShuffleBlock), so add always advances.
func (pw *patchWriter) streamRoom(at int64) int64 {
	avail := pw.streamCap - int64(len(pw.diff)+len(pw.extra))
	return max(0, (at+avail)/ShuffleBlock*ShuffleBlock-at)
}

// trialSize is the size of b coded at zstd's fastest level: a cheap
// estimate that, unlike the order-0 entropy, sees repeats.
func (pw *patchWriter) trialSize(b []byte) int {
	if pw.trial == nil {
		pw.trial, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithWindowSize(encoderWindow), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false))
	}
	pw.trialOut = pw.trial.EncodeAll(b, pw.trialOut[:0])
	return len(pw.trialOut)
}

// appendPlaneSpans appends the spans of a shuffled piece of n bytes of
// width w: w planes of n/w bytes, each plane of each width a class of
// its own (width 1: class 0; width 2: 1 and 2; width 4: 3 to 6).
func appendPlaneSpans(spans []fseblock.Span, n, w int) []fseblock.Span {
	for p := 0; p < w; p++ {
		c := uint8(w - 1 + p)
		if k := len(spans) - 1; k >= 0 && spans[k].Class == c {
			spans[k].Len += n / w
			continue
		}
		spans = append(spans, fseblock.Span{Class: c, Len: n / w})
	}
	return spans
}

// bestMinGain is how much smaller (as a share) the best level's coding
// of a diff or extra stream must be to be kept over the default level's.
// Measured on the fine-tune pair's diff stream (docs/delta.md): the best
// level saves 0.5% but its frames take 53 ms to decode per 64 MiB, against
// 18 ms for the default level's, which decides whether apply keeps up
// with the disk. On the other pairs the best level wins by more, or FSE
// wins outright.
const bestMinGain = 0.01

// compactStreams: the compact form (which an older Apply refuses) only
// for patches of at most these stream bytes, where its 60-90 bytes matter.
const compactStreams = 4 << 10

// flush writes the segment: compact if last, the only one and small.
func (pw *patchWriter) flush(last bool) error {
	if pw.dump != nil && pw.outLen > 0 {
		pw.dump(pw.ctrl, pw.diff, pw.extra)
	}
	compact := last && pw.n == 0 && len(pw.ctrl)+len(pw.diff)+len(pw.extra) <= compactStreams
	if pw.outLen == 0 && !compact { // the patch's end, after a segment
		pw.stats.PatchLength = pw.n
		return nil
	}
	if compact {
		pw.ctrl = pack(pw.ctrl)
	}
	var raw uint8
	var streams [3][]byte
	for i, s := range [][]byte{pw.ctrl, pw.diff, pw.extra} {
		if len(s) > 0 {
			pw.comp[i] = pw.enc.EncodeAll(s, pw.comp[i][:0])
			streams[i] = pw.comp[i]
			if i > 0 && pw.fastEnc != nil {
				pw.fast = pw.fastEnc.EncodeAll(s, pw.fast[:0])
				if float64(len(pw.fast)) <= float64(len(streams[i]))*(1+bestMinGain) {
					pw.comp[i], pw.fast = pw.fast, pw.comp[i]
					streams[i] = pw.comp[i]
				}
			}
			if i > 0 {
				// Order-0 FSE wins on bytes with no repeats (new int8
				// weights); zstd wins wherever matches help. It is coded
				// into the losing zstd coding's buffer: each trial
				// coding held at once costs Diff a segment of memory.
				spans := pw.diffSpans
				if i == 2 {
					spans = pw.extraSpans
				}
				if pw.fseEnc.Best == nil {
					// The encoders at hand, rather than two more.
					pw.trialSize(nil)
					pw.fseEnc.Fast, pw.fseEnc.Best = pw.trial, pw.enc
				}
				fse := appendFSE(&pw.fseEnc, pw.fast[:0], s, spans)
				if len(fse) < len(streams[i]) {
					pw.comp[i], fse = fse, pw.comp[i]
					streams[i] = pw.comp[i]
				}
				pw.fast = fse
			}
		}
		if compact && len(s) > 0 && len(s) <= len(streams[i]) {
			streams[i], raw = s, raw|1<<i
		}
	}
	sh := segmentHeader{outLen: uint32(pw.outLen), ctrlLen: uint32(len(streams[0])), diffLen: uint32(len(streams[1])), extraLen: uint32(len(streams[2]))}
	hb := sh.marshal()
	if h := pw.header; pw.n == 0 { // the patch's header first (compact: instead)
		c := head.Header{BaseLength: h.BaseLength, BaseSHA256: h.BaseSHA256, TargetLength: h.TargetLength, TargetSHA256: h.TargetSHA256, Compact: compact, Flags: raw, Streams: [3]int64{int64(len(streams[0])), int64(len(streams[1]))}}
		if hb = append(c.Append(nil), hb...); compact {
			hb = hb[:len(hb)-SegmentHeaderSize]
		}
	}
	if err := pw.write(hb); err != nil {
		return err
	}
	for _, s := range streams {
		if err := pw.write(s); err != nil {
			return err
		}
	}
	pw.stats.Segments++
	pw.ctrl, pw.diff, pw.extra = pw.ctrl[:0], pw.diff[:0], pw.extra[:0]
	pw.diffSpans, pw.extraSpans = pw.diffSpans[:0], pw.extraSpans[:0]
	pw.outLen = 0
	pw.stats.PatchLength = pw.n
	return nil
}
