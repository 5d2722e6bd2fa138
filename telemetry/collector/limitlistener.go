package collector

import (
	"net"
	"sync"
	"sync/atomic"
)

// DefaultMaxConns bounds the connections a collector holds open at once
// (mrepo telemetry serve): each costs a goroutine and its buffers, and a
// flood of idle or slow connections from many addresses must not exhaust
// memory or file descriptors. Connections beyond it wait in the kernel's
// accept queue until one closes.
const DefaultMaxConns = 4096

// LimitListener accepts at most n connections open at a time from ln: an
// Accept beyond waits until an accepted connection is closed.
func LimitListener(ln net.Listener, n int) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	slots     chan struct{}
	waiting   atomic.Int32 // Accepts waiting for a slot (tests)
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.waiting.Add(1)
		select {
		case l.slots <- struct{}{}:
			l.waiting.Add(-1)
		case <-l.done:
			l.waiting.Add(-1)
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back once, at its first Close.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
