package collector

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"net"
	"net/netip"
	"sync"
	"time"
)

// limiter is a token bucket per client. A client is known only by an
// HMAC of its address under a random key made at start and never stored:
// no IP, nor anything from which one could be recovered after the
// process ends, is kept or logged. IPv6 clients are keyed by their /64,
// which is what one host usually gets.
//
// The map of buckets is bounded (maxClients): when it is full, buckets
// that have refilled (an idle client, whose bucket is the same as a new
// one) are dropped; if none has, an arbitrary eighth is dropped, which
// gives those clients a fresh burst but keeps memory bounded against a
// flood from many addresses.
type limiter struct {
	rate       float64 // tokens per second
	burst      float64
	maxClients int
	now        func() time.Time
	key        [32]byte

	mu      sync.Mutex
	buckets map[[16]byte]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst, maxClients int, now func() time.Time) *limiter {
	l := &limiter{rate: rate, burst: float64(burst), maxClients: maxClients, now: now, buckets: map[[16]byte]*bucket{}}
	if _, err := rand.Read(l.key[:]); err != nil {
		panic("collector: no randomness for the rate limit key: " + err.Error())
	}
	return l
}

// clientKey is the HMAC of the client part of remoteAddr (HOST:PORT).
func (l *limiter) clientKey(remoteAddr string) [16]byte {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr := []byte(host)
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		if ip.Is6() {
			ip = netip.PrefixFrom(ip, 64).Masked().Addr()
		}
		addr = ip.AsSlice()
	}
	mac := hmac.New(sha256.New, l.key[:])
	mac.Write(addr)
	var k [16]byte
	copy(k[:], mac.Sum(nil))
	return k
}

// allow takes a token from the client's bucket. When there is none, it
// returns false and how long until there is one.
func (l *limiter) allow(remoteAddr string) (bool, time.Duration) {
	k := l.clientKey(remoteAddr)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[k]
	if b == nil {
		if len(l.buckets) >= l.maxClients {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[k] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+elapsed*l.rate)
		b.last = now
	}
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
		return false, wait
	}
	b.tokens--
	return true, 0
}

// evict makes room in a full map (l.mu held).
func (l *limiter) evict(now time.Time) {
	refill := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= refill {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < l.maxClients {
		return
	}
	drop := max(1, len(l.buckets)/8)
	for k := range l.buckets { // map order is random
		if drop == 0 {
			break
		}
		delete(l.buckets, k)
		drop--
	}
}

// clients is how many buckets are kept.
func (l *limiter) clients() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
