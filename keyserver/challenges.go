package keyserver

import (
	"crypto/ecdh"
	"sync"
	"time"
)

// challenge is one outstanding challenge: what it was issued for, the
// ephemeral key and nonce of the proof, and when it expires.
type challenge struct {
	id       string
	modelID  string
	version  string
	device   string
	priv     *ecdh.PrivateKey
	nonce    []byte
	expires  time.Time
	consumed bool
}

// challengeTable holds outstanding challenges, at most max of them. Every
// challenge lives as long as every other, so they expire in the order
// they were issued: a queue in that order lets expired (and consumed)
// ones be dropped from its front in constant time per challenge.
type challengeTable struct {
	mu    sync.Mutex
	max   int
	byID  map[string]*challenge
	queue []*challenge
}

func newChallengeTable(max int) *challengeTable {
	return &challengeTable{max: max, byID: map[string]*challenge{}}
}

// sweep drops, from the front of the queue, what is consumed or expired
// at now.
func (t *challengeTable) sweep(now time.Time) {
	i := 0
	for ; i < len(t.queue); i++ {
		c := t.queue[i]
		if !c.consumed && now.Before(c.expires) {
			break
		}
		if !c.consumed {
			delete(t.byID, c.id)
		}
		t.queue[i] = nil
	}
	t.queue = t.queue[i:]
	if cap(t.queue) > 4*t.max && len(t.queue) < t.max {
		t.queue = append([]*challenge(nil), t.queue...) // let the old array go
	}
}

// add stores c unless the table is full of live challenges; then it says
// when the oldest one expires.
func (t *challengeTable) add(c *challenge, now time.Time) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)
	// Consumed challenges wait in the queue until those before them
	// expire: the queue is bounded too.
	if len(t.byID) >= t.max || len(t.queue) >= 2*t.max {
		return false, max(time.Second, t.queue[0].expires.Sub(now)) // the front is live after a sweep
	}
	t.byID[c.id] = c
	t.queue = append(t.queue, c)
	return true, 0
}

// take removes and returns the challenge id (nil if unknown): a
// challenge is used once, whatever the outcome of its use.
func (t *challengeTable) take(id string, now time.Time) *challenge {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.byID[id]
	if c != nil {
		delete(t.byID, id)
		c.consumed = true
	}
	t.sweep(now)
	return c
}

// len is the number of outstanding challenges.
func (t *challengeTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byID)
}
