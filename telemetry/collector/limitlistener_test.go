package collector

import (
	"errors"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
)

// fakeListener hands out the connections sent on conns and counts the
// Accept calls that reached it.
type fakeListener struct {
	conns   chan net.Conn
	accepts atomic.Int32
}

func (f *fakeListener) Accept() (net.Conn, error) {
	f.accepts.Add(1)
	c, ok := <-f.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}
func (f *fakeListener) Close() error   { return nil }
func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

// TestConnectionsBounded: with n connections open, the next Accept waits
// for a slot without even taking a connection from the kernel; closing a
// connection (twice: the slot is given back once) lets exactly one more
// in; closing the listener ends the wait.
func TestConnectionsBounded(t *testing.T) {
	inner := &fakeListener{conns: make(chan net.Conn, 4)}
	ln := LimitListener(inner, 2).(*limitListener)
	var open []net.Conn
	for range 2 {
		a, b := net.Pipe()
		defer b.Close()
		inner.conns <- a
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
	}
	a, b := net.Pipe()
	defer b.Close()
	inner.conns <- a
	third := make(chan net.Conn)
	go func() {
		c, _ := ln.Accept()
		third <- c
	}()
	for ln.waiting.Load() != 1 {
		runtime.Gosched()
	}
	if n := inner.accepts.Load(); n != 2 {
		t.Fatalf("%d accepts reached the listener with the limit reached, want 2", n)
	}
	open[0].Close()
	open[0].Close() // a second Close frees nothing more
	if c := <-third; c == nil {
		t.Fatal("no connection after a slot was freed")
	}
	go ln.Accept() // the limit is reached again: it waits
	for ln.waiting.Load() != 1 {
		runtime.Gosched()
	}
	if n := inner.accepts.Load(); n != 3 {
		t.Fatalf("%d accepts reached the listener, want 3: a double Close freed two slots", n)
	}
	ln.Close()
	for ln.waiting.Load() != 0 {
		runtime.Gosched()
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatal("accepted after Close")
	}
}
