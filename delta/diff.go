// Diff's driver: it splits the files into chunks, hashes both whole files
// for the header, and runs the matcher (match.go), the coder (coder.go) and
// the patch writer (patchwriter.go) over each chunk.

package delta

import (
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// Diff tuning.
const (
	defaultChunk = 256 << 20
	// segmentOut is the target bytes per patch segment Diff writes.
	segmentOut = 16 << 20
	// smallSegmentStreams bounds the diff and extra bytes of a segment
	// when the old file is under smallSegmentBelow bytes (segmentStreams).
	// Each segment's streams are held several times while coding
	// (raw, and the trial codings): measured on the corpus
	// (docs/delta.md section 6), 4 MiB instead of 16 costs the 27-44 MB
	// pairs 30-90 MiB less diff memory for patches within 0.09%: the
	// streams' zstd window is 2 MiB, so a segment boundary loses little
	// history. Diff's budget is 8x the old file; above smallSegmentBelow
	// the files themselves dominate it and larger segments keep apply's
	// per-segment work small.
	smallSegmentStreams = 4 << 20
	smallSegmentBelow   = 64 << 20
	// sampleLen is how much of each piece the coder's cost estimate reads.
	sampleLen = 16 << 10
	// encoderWindow is the zstd window of the streams; Apply's decoders
	// need about this much memory each. Measured on the 64 MiB pairs,
	// 2 MiB gives patches within 0.02% of 4 MiB's (weights rarely repeat
	// at a distance) and saves Apply 4 MiB.
	encoderWindow = 2 << 20
)

// diffFixedMemory is what Diff's heap holds whatever the sizes: the best
// level's encoder (34 MiB of match tables), the default level's, and
// their history buffers.
const diffFixedMemory = 48 << 20

// streamCopies is how many times DiffMemory counts a segment's streams.
const streamCopies = 5

// DiffMemory is the heap Diff needs at most for files of these lengths
// with these options: the old window and the new chunk it holds, the
// anchor index while matching, then one segment's streams and their
// trial codings while coding, and the encoders. streamCopies is measured,
// not derived: with 4 MiB of streams per segment, TestDiffMemoryCoversLiveHeap
// sees 64 MiB of live heap beyond the files, where the raw stream, the
// winning coding and the losing one (3 copies) plus diffFixedMemory
// account for 60. A caller that runs Diff alone can give it to
// debug.SetMemoryLimit: without a limit the collector lets the heap grow
// to twice its live size, which for Diff's large live buffers is most of
// its peak (docs/delta.md section 6).
func DiffMemory(oldLen, newLen int64, opts Options) int64 {
	oldWin, newChunk := oldLen, newLen
	if chunk := diffChunk(opts); newLen > chunk || oldLen > 2*chunk {
		oldWin, newChunk = min(oldLen, 2*chunk), chunk
	}
	index := int64(tableSize(int(oldWin))) * 8
	return oldWin + newChunk + max(index, streamCopies*min(newChunk, segmentStreams(oldLen))+diffFixedMemory)
}

// segmentStreams is the most diff and extra bytes a segment Diff writes
// holds, with an old file of oldLen bytes. A segment of copies alone is
// not cut short: it costs no stream memory, and each segment costs the
// patch a header and three frames.
func segmentStreams(oldLen int64) int64 {
	if oldLen < smallSegmentBelow {
		return smallSegmentStreams
	}
	return segmentOut
}

// diffChunk is the chunk size opts ask for, rounded up to whole shuffle
// blocks.
func diffChunk(opts Options) int64 {
	chunk := opts.ChunkSize
	if chunk <= 0 {
		chunk = defaultChunk
	}
	return (chunk + ShuffleBlock - 1) / ShuffleBlock * ShuffleBlock
}

func diff(old io.ReaderAt, oldLen int64, nw io.ReaderAt, newLen int64, patch io.Writer, opts Options) (*Stats, error) {
	chunk := diffChunk(opts)
	h := Header{BaseLength: oldLen, TargetLength: newLen}
	if err := hashBoth(old, oldLen, nw, newLen, &h); err != nil {
		return nil, err
	}
	w := &patchWriter{w: patch, header: h, stats: &Stats{}, dump: opts.dump, streamCap: segmentStreams(oldLen)}
	w.fseEnc.MaxAdaptive = maxAdaptive(newLen, opts.FastApply)
	margin := chunk / 2
	w.stats.Chunked = newLen > chunk || oldLen > chunk+2*margin
	// Measured on the streams of 64 MiB model pairs (docs/delta.md): zstd's
	// best level is 0.5-2% smaller than its "better" level for 4x the
	// time, and within 2% of xz -9 and bzip2 -9, which decompress 5-10x
	// slower. Patches are made once and downloaded by every device, so
	// the best level is the default (but see bestMinGain: the default
	// level's frames decode 3x faster); the bounded mode for huge files
	// trades those percent for time.
	level := zstd.SpeedBestCompression
	if w.stats.Chunked {
		level = zstd.SpeedBetterCompression
	}
	// Concurrency 1: the patch writer calls EncodeAll one stream at a
	// time, and each encoder the pool holds costs its own tables (34 MiB
	// at the best level, touched whole by any stream of a megabyte): with
	// 2, both served calls in turn, and diff memory carried both.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithWindowSize(encoderWindow), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	w.enc = enc
	if level == zstd.SpeedBestCompression {
		fast, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(encoderWindow), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer fast.Close()
		w.fastEnc = fast
	}
	// The buffers are allocated once, at their largest, and reused by
	// every chunk: garbage of this size would let the heap double.
	regions := diffRegions(old, oldLen, nw, newLen, opts, w.stats)
	var oldBuf, newBuf []byte
	var mt matcher
	for cs := int64(0); cs < newLen; cs += chunk {
		ce := min(cs+chunk, newLen)
		ws, we := max(0, cs-margin), min(oldLen, ce+margin)
		if !w.stats.Chunked {
			ws, we = 0, oldLen
		}
		if ws > we {
			ws = we
		}
		if oldBuf == nil {
			oldCap := min(oldLen, chunk+2*margin)
			if !w.stats.Chunked {
				oldCap = oldLen
			}
			oldBuf = make([]byte, oldCap)
			newBuf = make([]byte, min(newLen, chunk))
			// The anchor index too: the first window is the smallest.
			mt.reserve(len(oldBuf))
		}
		oldWin := oldBuf[:we-ws]
		if err := readFull(old, oldWin, ws); err != nil {
			return nil, fmt.Errorf("reading the old file: %w", err)
		}
		newChunk := newBuf[:ce-cs]
		if err := readFull(nw, newChunk, cs); err != nil {
			return nil, fmt.Errorf("reading the new file: %w", err)
		}
		ms := mt.findMatches(oldWin, newChunk)
		if !w.stats.Chunked {
			// One chunk: the index (half the old file's size) is not
			// needed again, and the coder's buffers can reuse its memory.
			mt = matcher{}
		}
		c := coder{old: oldWin, oldBase: ws, new: newChunk, newBase: cs, w: w, regions: regions}
		if err := c.code(ms); err != nil {
			return nil, err
		}
	}
	if err := w.flush(true); err != nil {
		return nil, err
	}
	return w.stats, nil
}

func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// hashBoth computes both files' SHA-256, in parallel.
func hashBoth(old io.ReaderAt, oldLen int64, nw io.ReaderAt, newLen int64, h *Header) error {
	errc := make(chan error, 1)
	go func() {
		s := sha256.New()
		_, err := io.CopyBuffer(s, io.NewSectionReader(old, 0, oldLen), make([]byte, 1<<20))
		s.Sum(h.BaseSHA256[:0])
		errc <- err
	}()
	s := sha256.New()
	_, err := io.CopyBuffer(s, io.NewSectionReader(nw, 0, newLen), make([]byte, 1<<20))
	s.Sum(h.TargetSHA256[:0])
	if oerr := <-errc; oerr != nil {
		return fmt.Errorf("reading the old file: %w", oerr)
	}
	if err != nil {
		return fmt.Errorf("reading the new file: %w", err)
	}
	return nil
}
