package keyserver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"
)

// AuditSink is where audit lines go: an append-only file (*os.File).
type AuditSink interface {
	Write(p []byte) (int, error)
	Sync() error
}

// Outcomes of a request in the audit log besides the refusal codes.
const (
	OutcomeChallenge = "CHALLENGE_ISSUED"
	OutcomeReleased  = "KEY_RELEASED"
	OutcomeInternal  = "INTERNAL_ERROR"
	// RefusalMetadataInvalid (503): the repository's metadata does not
	// verify or has expired (ErrMetadataInvalid); no key is released
	// until it does. Devices retry a 503 later (NETWORK).
	RefusalMetadataInvalid = "METADATA_INVALID"
)

// AuditRecord is one line of the audit log, one per request. It names
// the device by its label and a fingerprint of its recipient (never by
// anything secret); nothing in it is key material.
type AuditRecord struct {
	Time     string `json:"time"`
	Remote   string `json:"remote"`
	Endpoint string `json:"endpoint"`
	Device   string `json:"device,omitempty"` // fingerprint: DeviceFingerprint
	Label    string `json:"label,omitempty"`
	ModelID  string `json:"model_id,omitempty"`
	Version  string `json:"version,omitempty"`
	Outcome  string `json:"outcome"`
	Status   int    `json:"status"`
	// NotAfter is when a released key expires (KEY_RELEASED only).
	NotAfter string `json:"not_after,omitempty"`
}

// DeviceFingerprint names a device recipient in the audit log: the first
// 16 hex digits of the SHA-256 of its "age1tag1..." form.
func DeviceFingerprint(recipient string) string {
	sum := sha256.Sum256([]byte(recipient))
	return hex.EncodeToString(sum[:8])
}

// auditLog writes AuditRecords as JSON lines, each with one write(2), so
// a crash of the service loses none. A line that releases a key is also
// synced (fsync) before the key is sent: no key leaves without a record
// that survives a crash of the machine. Other lines (challenges,
// refusals) reach the disk with the next synced one or the kernel's
// writeback: a flood of refused requests must not turn into a stream of
// fsyncs, and a release costs one fsync, not two.
type auditLog struct {
	mu   sync.Mutex
	sink AuditSink
}

func (l *auditLog) write(rec AuditRecord, now time.Time, sync bool) error {
	if l.sink == nil {
		return nil
	}
	rec.Time = now.UTC().Format(time.RFC3339Nano)
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.sink.Write(append(line, '\n')); err != nil {
		return err
	}
	if sync {
		return l.sink.Sync()
	}
	return nil
}
