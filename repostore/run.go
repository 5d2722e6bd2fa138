package repostore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/storage"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// DefaultAttempts is how many sessions Run tries before giving up on
// conflicts. Of N publishers that collide, one commits per round and the
// others start over, and a publisher that lost several times waits
// longer than newcomers: 8 mrepo processes publishing at once into
// versitygw needed up to 18 attempts for one publication (cmd/mrepo's
// TestConcurrentPublishersS3), and 10 made half of them give up. With the
// backoff capped at 5 s, 50 attempts retry for about 3 minutes at most.
const DefaultAttempts = 50

// Backoff between attempts: base doubled per conflict, at most max, half
// of it random so that publishers that collided do not collide again.
const (
	backoffBase = 100 * time.Millisecond
	backoffMax  = 5 * time.Second
)

// RunOptions configure Run.
type RunOptions struct {
	// Scratch is where sessions keep their local files (os.TempDir()
	// when empty).
	Scratch string
	// Attempts bounds the sessions tried on conflicts (DefaultAttempts
	// when 0).
	Attempts int
	// Timestamp re-signs timestamp.json on the newest committed snapshot
	// (repo.Timestamp with the keys at hand): how Run rolls the timestamp
	// forward when another publisher replaced it between this one's
	// snapshot and its timestamp. Nil: the committed snapshot waits for
	// the next publication or timestamp run to name it.
	Timestamp func(fs afero.Fs, dir string) error
	// OnRetry is told of each retry (attempt is the one about to run) so
	// that a command can report it.
	OnRetry func(attempt, attempts int, err error)
	// Sleep waits d or until ctx ends; tests inject it (default: a
	// timer). Jitter returns a number in [0, 1) (default: math/rand).
	Sleep  func(ctx context.Context, d time.Duration) error
	Jitter func() float64
}

func (o *RunOptions) defaults() {
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backoff is the wait before attempt (2, 3, ...).
func (o *RunOptions) backoff(attempt int) time.Duration {
	d := backoffBase << min(attempt-2, 10)
	if d > backoffMax {
		d = backoffMax
	}
	return d/2 + time.Duration(o.Jitter()*float64(d/2))
}

// Run runs op in fresh sessions until it commits, retrying ErrConflict
// with jittered backoff (at most o.Attempts sessions), then rolls
// timestamp.json forward if another publisher's compare-and-swap won
// after this one's snapshot was committed: until timestamp.json names a
// snapshot at least as new as the one committed. op must do the whole
// operation from the state it reads: a retry starts again from the new
// state.
func Run(ctx context.Context, b storage.Backend, o RunOptions, op func(fs afero.Fs, dir string) error) (*CommitResult, error) {
	o.defaults()
	var lastErr error
	for attempt := 1; attempt <= o.Attempts; attempt++ {
		if attempt > 1 {
			if o.OnRetry != nil {
				o.OnRetry(attempt, o.Attempts, lastErr)
			}
			if err := o.Sleep(ctx, o.backoff(attempt)); err != nil {
				return nil, err
			}
		}
		res, err := runOnce(ctx, b, o.Scratch, op)
		if errors.Is(err, ErrConflict) {
			lastErr = err
			continue
		}
		if err != nil {
			return nil, err
		}
		res.Attempts = attempt
		if res.TimestampLost && res.Snapshot > 0 && o.Timestamp != nil {
			if err := rollForward(ctx, b, &o, res.Snapshot); err != nil {
				return res, fmt.Errorf("snapshot %d is published, but timestamp.json could not be moved to it: %w", res.Snapshot, err)
			}
		}
		return res, nil
	}
	return nil, &ConflictError{Attempts: o.Attempts, Err: lastErr}
}

// ConflictError is Run's failure after every attempt lost to another
// publisher. Its code (for --json) is CONFLICT.
type ConflictError struct {
	Attempts int
	Err      error
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("CONFLICT: gave up after %d attempts: %v", e.Attempts, e.Err)
}
func (e *ConflictError) Unwrap() error     { return e.Err }
func (e *ConflictError) ErrorCode() string { return "CONFLICT" }

// runOnce runs op in one session and commits it.
func runOnce(ctx context.Context, b storage.Backend, scratch string, op func(afero.Fs, string) error) (*CommitResult, error) {
	s, err := Begin(ctx, b, scratch)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := op(s.Fs(), s.Dir()); err != nil {
		return nil, s.Describe(err)
	}
	res, err := s.Commit(ctx)
	return res, s.Describe(err)
}

// rollForward re-signs timestamp.json until it names snapshot version
// committed or newer (this publisher's timestamp, or another's).
func rollForward(ctx context.Context, b storage.Backend, o *RunOptions, committed int64) error {
	for attempt := 1; attempt <= o.Attempts; attempt++ {
		if attempt > 1 {
			if err := o.Sleep(ctx, o.backoff(attempt)); err != nil {
				return err
			}
		}
		done := false
		res, err := runOnce(ctx, b, o.Scratch, func(fs afero.Fs, dir string) error {
			v, err := timestampSnapshot(fs, dir)
			if err != nil || v >= committed {
				done = err == nil
				return err
			}
			return o.Timestamp(fs, dir)
		})
		if err != nil && !errors.Is(err, ErrConflict) {
			return err
		}
		if done || (err == nil && !res.TimestampLost) {
			return nil
		}
	}
	return fmt.Errorf("%w: timestamp.json kept changing", ErrConflict)
}

// timestampSnapshot is the snapshot version timestamp.json names.
// Signatures are not checked: it only decides whether to re-sign, and the
// re-signing writer checks everything it builds on.
func timestampSnapshot(fs afero.Fs, dir string) (int64, error) {
	ts, err := repofiles.ReadMeta(fs, filepath.Join(dir, repofiles.MetadataDir, "timestamp.json"), metadata.Timestamp(), nil)
	if err != nil {
		return 0, repofiles.StoredError("timestamp.json", err)
	}
	m := ts.Signed.Meta["snapshot.json"]
	if m == nil {
		return 0, repofiles.StoredError("timestamp.json", errors.New("no snapshot.json entry"))
	}
	return m.Version, nil
}
