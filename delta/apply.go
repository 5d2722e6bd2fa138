package delta

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/edgetuf/edgetuf/delta/internal/head"
	"github.com/edgetuf/edgetuf/delta/internal/readahead"
	"github.com/klauspost/compress/zstd"
)

// maxWindow bounds the zstd window a patch may use, and with it the
// memory of each of the three stream decoders.
const maxWindow = 8 << 20

// copyBuf is the size of the buffers Apply reads the base and streams with.
const copyBuf = ShuffleBlock

type applier struct {
	base     io.ReaderAt
	baseLen  int64
	out      *output
	written  int64
	lim      Limits
	start    time.Time
	work     *Budget
	adaptive *Budget // raw bytes Adaptive blocks may still decode (adaptiveAllowance)
	hooks    *applyHooks

	ctrl, zdiff, zextra *zstd.Decoder
	ctrlR               *bufio.Reader
	// The diff and extra streams of segments in turn: while one set
	// serves the segment being rebuilt, the other decodes the next
	// segment's FSE streams (prefetch).
	sets                [2]dataStreams
	patchLen, targetLen int64

	tmp  []byte       // one shuffle block of stream bytes
	form *head.Header // the patch's header: its form and flags
}

// dataStreams decodes a segment's diff and extra streams ahead of Apply.
type dataStreams struct {
	fse     [2]fseReader         // diff, extra
	ra      [2]*readahead.Reader // each stream, decompressed ahead
	started [2]bool              // ra[i] runs this segment's stream i
	seg     int64                // patch offset of the segment, -1 for none
	sh      segmentHeader        // its header, as prefetch read it
}

func (d *dataStreams) stop() {
	d.ra[0].Stop()
	d.ra[1].Stop()
	d.started, d.seg = [2]bool{}, -1
}

// applyHooks let a test of this package inject faults into Apply's
// stages (production passes nil); each is called once per unit of work of
// its stage, in the goroutine that does it.
type applyHooks struct {
	record    func() // Apply's own goroutine, before each record
	readAhead func() // the read-ahead goroutines, before each buffer
	hash      func() // the hashing goroutine, before each buffer
	write     func() // the writing goroutine, before each buffer
	prefetch  func() // Apply's own goroutine, as it starts a stream early
}

func apply(base io.ReaderAt, baseLen int64, patch io.ReaderAt, patchLen int64, out io.Writer, lim Limits, hooks *applyHooks) (h *Header, err error) {
	// A panic here (a bug a hostile patch found) becomes an error; the
	// deferred stops below have run by then, so no goroutine is left.
	defer func() {
		if r := recover(); r != nil {
			err = panicErr("rebuilding the target", r)
		}
	}()
	if hooks == nil {
		hooks = &applyHooks{}
	}
	h, err = readHeader(patch, patchLen)
	if err != nil {
		return nil, err
	}
	if h.BaseLength != baseLen {
		return h, fmt.Errorf("%w: the patch is for a base of %d bytes, this one has %d", ErrBase, h.BaseLength, baseLen)
	}
	if lim.BaseSHA256 != nil && !h.BaseIs(baseLen, lim.BaseSHA256) {
		return h, fmt.Errorf("%w: the patch is for a base of SHA-256 %x, not %x", ErrBase, h.BaseSHA256[:h.HashPrefix], lim.BaseSHA256)
	}
	if lim.TargetSHA256 != nil && !h.TargetIs(h.TargetLength, lim.TargetSHA256) {
		return h, fmt.Errorf("%w: the patch rebuilds a file of SHA-256 %x, not %x", ErrTarget, h.TargetSHA256[:h.HashPrefix], lim.TargetSHA256)
	}
	if lim.MaxOutput > 0 && h.TargetLength > lim.MaxOutput {
		return h, limitErr("the patch claims a %d-byte output, at most %d allowed", h.TargetLength, lim.MaxOutput)
	}
	ratio := lim.MaxPatchRatio
	if ratio == 0 {
		ratio = 1
	}
	if ratio > 0 && h.TargetLength >= 4096 && float64(patchLen) > ratio*float64(h.TargetLength) {
		return h, limitErr("the patch (%d bytes) is larger than %.2f times its %d-byte output", patchLen, ratio, h.TargetLength)
	}
	work := lim.Work
	if work == nil {
		work = NewBudget(WorkBudget(h.TargetLength))
	}
	a := &applier{base: base, baseLen: baseLen, lim: lim, start: time.Now(), work: work, hooks: hooks,
		tmp: make([]byte, copyBuf), form: h.form, adaptive: adaptiveAllowance(h.TargetLength)}
	a.out = newOutput(out, hooks, h.TargetLength)
	defer a.out.abort()
	err = a.run(&readahead.LockedReaderAt{R: patch}, patchLen, h)
	// Only a wrong output needs the base's hash, to tell a wrong base from
	// a bad patch: hashing it up front would cost a full read every time.
	if lim.VerifyBase && errors.Is(err, ErrTarget) {
		if berr := verifyBase(base, baseLen, h, lim.BaseSHA256); berr != nil {
			return h, berr
		}
	}
	return h, err
}

func (a *applier) run(patch io.ReaderAt, patchLen int64, h *Header) error {
	var err error
	// MaxMemory also bounds single-segment frames, whose window is their
	// whole content.
	opts := []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(maxWindow), zstd.WithDecoderMaxMemory(maxWindow), zstd.IgnoreChecksum(true)}
	for _, d := range []**zstd.Decoder{&a.ctrl, &a.zdiff, &a.zextra} {
		if *d, err = zstd.NewReader(nil, opts...); err != nil {
			return err
		}
		defer (*d).Close()
	}
	onPanic := func(p any) error { return panicErr("decompressing a stream", p) }
	for i := range a.sets {
		d := &a.sets[i]
		d.seg = -1 // none started early yet, as stop leaves it
		for j := range d.ra {
			d.fse[j].work, d.fse[j].adaptive = a.work, a.adaptive
			d.ra[j] = readahead.New(h.TargetLength, a.hooks.readAhead, onPanic)
		}
		// Runs before the decoders close: they must not be in use.
		defer d.stop()
	}
	a.patchLen, a.targetLen = patchLen, h.TargetLength
	nseg := 0
	off := int64(h.form.Len)
	if c := h.form.Streams; h.form.Compact && h.TargetLength > 0 {
		// One segment, from the header, rebuilds the target.
		if err := a.segment(patch, off, segmentHeader{uint32(h.TargetLength), uint32(c[0]), uint32(c[1]), uint32(c[2])}, &a.sets[0], &a.sets[1]); err != nil {
			return err
		}
		off = patchLen
	}
	for a.written < h.TargetLength {
		if off+SegmentHeaderSize > patchLen {
			return formatErr("truncated: segment header at %d", off)
		}
		sb := make([]byte, SegmentHeaderSize)
		if _, err := patch.ReadAt(sb, off); err != nil {
			return formatErr("reading a segment header: %v", err)
		}
		sh := parseSegmentHeader(sb)
		off += SegmentHeaderSize
		if sh.outLen == 0 || sh.outLen > MaxSegment || int64(sh.outLen) > h.TargetLength-a.written {
			return formatErr("segment output length %d at target offset %d of %d", sh.outLen, a.written, h.TargetLength)
		}
		end := off + int64(sh.ctrlLen) + int64(sh.diffLen) + int64(sh.extraLen)
		if end > patchLen {
			return formatErr("truncated: segment streams end at %d, patch has %d bytes", end, patchLen)
		}
		if err := a.segment(patch, off, sh, &a.sets[nseg%2], &a.sets[(nseg+1)%2]); err != nil {
			return err
		}
		off, nseg = end, nseg+1
	}
	if off != patchLen {
		return formatErr("%d bytes of trailing data", patchLen-off)
	}
	if err := a.out.close(); err != nil {
		return err
	}
	var got [32]byte
	a.out.sum.Sum(got[:0])
	if !h.TargetIs(h.TargetLength, got[:]) || a.lim.TargetSHA256 != nil && !bytes.Equal(got[:], a.lim.TargetSHA256) {
		return fmt.Errorf("%w: SHA-256 %x, the patch promises %x, the caller %x", ErrTarget, got, h.TargetSHA256[:h.HashPrefix], a.lim.TargetSHA256)
	}
	h.TargetSHA256 = got
	return nil
}

func verifyBase(base io.ReaderAt, baseLen int64, h *Header, want []byte) error {
	s := sha256.New()
	if _, err := io.CopyBuffer(s, io.NewSectionReader(base, 0, baseLen), make([]byte, 256<<10)); err != nil {
		return fmt.Errorf("reading the base: %w", err)
	}
	if sum := s.Sum(nil); !h.BaseIs(baseLen, sum) || want != nil && !bytes.Equal(sum, want) {
		return fmt.Errorf("%w: its SHA-256 differs from the one the patch was made from", ErrBase)
	}
	return nil
}

// stream resets d to decode the n bytes of patch at off (empty if n is
// 0), each charged to work as d reads it, and returns d (raw: the bytes).
func stream(d *zstd.Decoder, work *Budget, patch io.ReaderAt, off int64, n uint32, raw bool) (io.Reader, error) {
	if raw {
		return io.NewSectionReader(patch, off, int64(n)), nil
	}
	if err := d.Reset(&chargedReader{io.NewSectionReader(patch, off, int64(n)), work}); err != nil {
		return nil, formatErr("stream at %d: %v", off, err)
	}
	return d, nil
}

// dataStream opens a diff or extra stream: a zstd frame, or an FSE stream
// (fsestream.go), told apart by their first four bytes (raw: a compact
// patch's stream stored as is). With a nil z it opens FSE streams only,
// and returns nil for others.
func dataStream(z *zstd.Decoder, f *fseReader, work *Budget, patch io.ReaderAt, off int64, n uint32, raw bool) (io.Reader, error) {
	if n >= 4 && !raw {
		var m [4]byte
		if _, err := patch.ReadAt(m[:], off); err != nil {
			return nil, formatErr("stream at %d: %v", off, err)
		}
		if string(m[:]) == fseMagic {
			f.reset(io.NewSectionReader(patch, off+4, int64(n)-4))
			return f, nil
		}
	}
	if z == nil {
		return nil, nil
	}
	return stream(z, work, patch, off, n, raw)
}

// segment rebuilds the segment at off (header sh excluded) from the
// streams of cur, which may have been started by prefetch, and starts
// the next segment's FSE streams in next.
func (a *applier) segment(patch io.ReaderAt, off int64, sh segmentHeader, cur, next *dataStreams) error {
	if err := a.work.spend(workPerSegment); err != nil {
		return err
	}
	ctrl, err := stream(a.ctrl, a.work, patch, off, sh.ctrlLen, a.form.Flags&head.RawControl != 0)
	if err != nil {
		return err
	}
	// The previous segment's streams are used up: stop reading ahead
	// before their decoders are reset or its set prefetches.
	next.stop()
	if cur.seg != off || cur.sh != sh {
		cur.stop()
	}
	z := [2]*zstd.Decoder{a.zdiff, a.zextra}
	soff := off + int64(sh.ctrlLen)
	for i, n := range [2]uint32{sh.diffLen, sh.extraLen} {
		if !cur.started[i] {
			r, err := dataStream(z[i], &cur.fse[i], a.work, patch, soff, n, a.form.Flags&(head.RawDiff<<i) != 0)
			if err != nil {
				return err
			}
			cur.ra[i].Start(r)
		}
		soff += int64(n)
	}
	if a.written+int64(sh.outLen) < a.targetLen {
		a.prefetch(patch, soff, next)
	}
	if a.ctrlR == nil {
		a.ctrlR = bufio.NewReaderSize(ctrl, 4096)
	} else {
		a.ctrlR.Reset(ctrl)
	}
	segEnd := a.written + int64(sh.outLen)
	for a.written < segEnd {
		if a.lim.MaxDuration > 0 && time.Since(a.start) > a.lim.MaxDuration {
			return limitErr("applying took longer than %s", a.lim.MaxDuration)
		}
		rec, err := readRecord(a.ctrlR, a.form.Compact)
		if err == io.EOF {
			return formatErr("control stream ends at target offset %d, segment ends at %d", a.written, segEnd)
		}
		if err != nil {
			return streamErr("control", err)
		}
		if rec.length > segEnd-a.written {
			return formatErr("record of %d bytes at target offset %d runs past the segment end %d", rec.length, a.written, segEnd)
		}
		if rec.op != opInsert && (rec.offset > a.baseLen || rec.length > a.baseLen-rec.offset) {
			return formatErr("record reads base bytes %d..%d, the base has %d", rec.offset, rec.offset+rec.length, a.baseLen)
		}
		if w := int64(rec.width); w > 1 && (a.written%w != 0 || rec.length%w != 0) {
			return formatErr("width-%d record at target offset %d, length %d is not aligned", w, a.written, rec.length)
		}
		if err := a.work.spend(workPerRecord); err != nil {
			return err
		}
		if a.hooks.record != nil {
			a.hooks.record()
		}
		if err := a.record(rec, cur); err != nil {
			return err
		}
	}
	// Every stream must be used up exactly.
	for _, s := range []struct {
		name string
		r    io.Reader
	}{{"control", a.ctrlR}, {"diff", cur.ra[0]}, {"extra", cur.ra[1]}} {
		if n, err := s.r.Read(a.tmp[:1]); n != 0 || err != io.EOF {
			if err != nil && err != io.EOF {
				return streamErr(s.name, err)
			}
			return formatErr("%s stream has data past the end of its segment", s.name)
		}
	}
	return nil
}

// prefetch starts decoding the FSE streams of the segment at off into d
// while the current one is rebuilt, so that decoding the next segment
// overlaps rebuilding this one and two FSE streams decode at once. It is
// a guess: a header it cannot use stops it, and run reports what is wrong
// when it reaches the segment. zstd streams wait for their segment: their
// decoders are shared, as a second set would double their memory (up to
// maxWindow each on a hostile patch).
func (a *applier) prefetch(patch io.ReaderAt, off int64, d *dataStreams) {
	var b [SegmentHeaderSize]byte
	if off+SegmentHeaderSize > a.patchLen {
		return
	}
	if _, err := patch.ReadAt(b[:], off); err != nil {
		return
	}
	sh := parseSegmentHeader(b[:])
	soff := off + SegmentHeaderSize + int64(sh.ctrlLen)
	if soff+int64(sh.diffLen)+int64(sh.extraLen) > a.patchLen {
		return
	}
	d.seg, d.sh = off+SegmentHeaderSize, sh
	for i, n := range [2]uint32{sh.diffLen, sh.extraLen} {
		if r, err := dataStream(nil, &d.fse[i], a.work, patch, soff, n, false); err == nil && r != nil {
			if a.hooks.prefetch != nil {
				a.hooks.prefetch()
			}
			d.ra[i].Start(r)
			d.started[i] = true
		}
		soff += int64(n)
	}
}

func streamErr(name string, err error) error {
	if errors.Is(err, ErrFormat) || errors.Is(err, ErrInternal) || errors.Is(err, ErrLimit) {
		return err
	}
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return formatErr("%s stream is too short", name)
	}
	return formatErr("%s stream: %v", name, err)
}

// record produces one record's bytes into the output buffers, a shuffle
// block (or, for COPY, a buffer) at a time.
func (a *applier) record(rec record, streams *dataStreams) error {
	start := a.written
	end := a.written + rec.length
	for pos := a.written; pos < end; {
		if a.lim.MaxDuration > 0 && time.Since(a.start) > a.lim.MaxDuration {
			return limitErr("applying took longer than %s", a.lim.MaxDuration)
		}
		pe := pieceEnd(pos, end)
		if rec.op == opCopy {
			pe = end // no shuffle blocks: as much as the buffer holds
		}
		out, err := a.out.buf(int(pe - pos))
		if err != nil {
			return err
		}
		n := len(out)
		// Output bytes, and base or stream bytes read for them.
		w := int64(n)
		if rec.op != opInsert {
			w += workPerBaseRead + int64(n)
		}
		if rec.op != opCopy {
			w += int64(n)
		}
		if err := a.work.spend(w); err != nil {
			return err
		}
		if rec.op != opInsert {
			boff := rec.offset + (pos - start)
			if _, err := a.base.ReadAt(out, boff); err != nil {
				return fmt.Errorf("%w: reading the base at %d: %v", ErrBase, boff, err)
			}
		}
		// Output buffers are filled whole and are a multiple of
		// ShuffleBlock, so each covers whole shuffle blocks of the target
		// and a block never straddles two of them.
		if rec.op != opCopy && n < int(pe-pos) {
			return fmt.Errorf("internal error: shuffle block at %d split by an output buffer", pos)
		}
		if rec.op != opCopy {
			src, name := streams.ra[0], "diff"
			if rec.op == opInsert {
				src, name = streams.ra[1], "extra"
			}
			data, err := src.Next(n, a.tmp)
			if err != nil {
				return streamErr(name, err)
			}
			combine(out, data, rec.op, int(rec.width))
		}
		a.out.commit(n)
		a.written += int64(n)
		pos += int64(n)
	}
	return nil
}

// chargedReader charges workPerZstdStreamByte units for each byte of a
// zstd stream before the decoder gets it: a stream of empty frames costs
// 13.6 ns of CPU per byte and produces nothing.
type chargedReader struct {
	r    io.Reader
	work *Budget
}

func (c *chargedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		if werr := c.work.spend(workPerZstdStreamByte * int64(n)); werr != nil {
			return 0, werr
		}
	}
	return n, err
}
