package telemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/telemetry"
	"golang.org/x/sys/unix"
)

// The journal makes recording cheap: a report is appended to
// telemetry/journal as one line, and the file is fsynced (no parse and
// rewrite of the whole outbox, no rename), so recording into a full outbox
// costs one small write and one fsync. Each line is
//
//	CRC  SP  JSON  LF
//
// where CRC is the 8 lowercase hex digits of the CRC-32C of JSON, one
// telemetry.Report. A kill during an append leaves a torn last line, which
// fails its checksum and is skipped; a line that fails its checksum, does
// not parse or breaks a rule of the format is skipped too (a file is never
// trusted because it exists). The journal is merged into outbox.json, and
// removed, whenever the outbox is rewritten anyway (every upload) and when
// an append would take it past journalMax; reports in both (a kill between
// the rewrite and the removal) are merged once, by ID.
const JournalFile = "journal"

// maxJournalLine bounds one line (a report is a few hundred bytes).
const maxJournalLine = 4 << 10

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// journalLines encodes reports as journal lines.
func journalLines(reports []telemetry.Report) ([]byte, error) {
	var buf bytes.Buffer
	for i := range reports {
		data, err := json.Marshal(&reports[i])
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&buf, "%08x %s\n", crc32.Checksum(data, castagnoli), data)
	}
	return buf.Bytes(), nil
}

// parseJournal decodes a journal: the reports of every sound line, in
// order, and an error describing the lines skipped (nil: none).
func parseJournal(data []byte) ([]telemetry.Report, error) {
	var reports []telemetry.Report
	skipped := 0
	for len(data) > 0 {
		line, rest, complete := bytes.Cut(data, []byte{'\n'})
		data = rest
		if !complete { // torn by a kill during an append
			skipped++
			break
		}
		rep, err := parseJournalLine(line)
		if err != nil {
			skipped++
			continue
		}
		reports = append(reports, rep)
	}
	if skipped > 0 {
		return reports, fmt.Errorf("%w: %d journal lines skipped", ErrOutbox, skipped)
	}
	return reports, nil
}

func parseJournalLine(line []byte) (telemetry.Report, error) {
	var rep telemetry.Report
	if len(line) < 10 || len(line) > maxJournalLine || line[8] != ' ' {
		return rep, errors.New("malformed line")
	}
	var sum uint32
	if _, err := fmt.Sscanf(string(line[:8]), "%08x", &sum); err != nil || fmt.Sprintf("%08x", sum) != string(line[:8]) {
		return rep, errors.New("malformed checksum")
	}
	body := line[9:]
	if crc32.Checksum(body, castagnoli) != sum {
		return rep, errors.New("checksum mismatch")
	}
	if err := jsonlimit.UnmarshalExact(body, &rep, maxJournalLine); err != nil {
		return rep, err
	}
	return rep, rep.Check()
}

// readJournal reads and decodes the journal (nil when there is none).
// One larger than journalMax, or not a regular file, is discarded whole.
func (o *outbox) readJournal() ([]telemetry.Report, bool, error) {
	data, err := o.sfs.ReadFile(filepath.Join(o.dir, JournalFile), o.journalMax)
	if errors.Is(err, os.ErrNotExist) && !safefs.IsUnsafe(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, fmt.Errorf("%w: %s: %v", ErrOutbox, JournalFile, err)
	}
	reports, err := parseJournal(data)
	return reports, true, err
}

// appendJournal appends reports to the journal and fsyncs it (and the
// directory when it creates the file). It returns false, writing
// nothing, when the journal would grow past journalMax: the caller then
// rewrites the outbox instead.
func (o *outbox) appendJournal(reports []telemetry.Report) (bool, error) {
	lines, err := journalLines(reports)
	if err != nil {
		return false, err
	}
	name := filepath.Join(o.dir, JournalFile)
	created := true
	f, err := o.sfs.OpenFile(name, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) && !safefs.IsUnsafe(err) {
		created = false
		f, err = o.sfs.OpenFile(name, os.O_RDWR|os.O_APPEND, 0)
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false, fmt.Errorf("%s is not a regular file", name)
	}
	if st.Size > 0 {
		// A torn last line (a kill during an append) is ended first, so
		// that it cannot swallow the new lines' first one.
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size-1); err != nil && err != io.EOF {
			return false, err
		}
		if last[0] != '\n' {
			lines = append([]byte{'\n'}, lines...)
		}
	}
	if st.Size+int64(len(lines)) > o.journalMax {
		return false, nil
	}
	crashpoint.Hit("telemetry.journal.append")
	if _, err := f.Write(lines); err != nil {
		return false, err
	}
	if err := f.Sync(); err != nil {
		return false, err
	}
	if created {
		return true, atomicfs.SyncDir(o.sfs.Afero(), o.dir)
	}
	return true, nil
}

// ReadOutbox is the outbox of a state directory as an upload reads it
// (outbox.json with the journal merged in, within the default bounds);
// anything damaged is an error. For tests and tools: it takes no lock.
func ReadOutbox(stateDir string) (*State, error) {
	s, _, damaged := newOutbox(stateDir, DefaultMaxReports, DefaultMaxBytes).load()
	return s, damaged
}
