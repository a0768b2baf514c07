package groupproxy

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"
)

// backend is a TCP server that greets each connection with its name.
func backend(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := io.WriteString(c, name+"\n"); err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// greet connects to addr and returns the backend's name, or "" if the
// connection is closed without one.
func greet(t *testing.T, addr string) (string, net.Conn) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", c
	}
	return line[:len(line)-1], c
}

// closedByPeer reports whether c is closed by the other end within a
// deadline.
func closedByPeer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err == io.EOF || err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func newProxy(t *testing.T, wait time.Duration) (*Proxy, string, string) {
	t.Helper()
	p := New(slog.New(slog.DiscardHandler), wait)
	t.Cleanup(func() { p.Close() })
	if err := p.Set("g", Listen{Write: "127.0.0.1:0", Read: "127.0.0.1:0"}, Route{}); err != nil {
		t.Fatal(err)
	}
	w, r := p.Addrs("g")
	return p, w, r
}

func TestRoutes(t *testing.T) {
	a, b, c := backend(t, "a"), backend(t, "b"), backend(t, "c")
	p, w, r := newProxy(t, 5*time.Second)
	set := func(rt Route) {
		t.Helper()
		p.mu.Lock()
		g := p.groups["g"]
		p.mu.Unlock()
		g.setRoute(rt)
	}
	set(Route{Write: a, Reads: []string{b, c}})
	if got, _ := greet(t, w); got != "a" {
		t.Errorf("write port reached %q; want the source a", got)
	}
	seen := map[string]bool{}
	for range 4 {
		got, _ := greet(t, r)
		seen[got] = true
	}
	if !seen["b"] || !seen["c"] || seen["a"] {
		t.Errorf("read port reached %v; want the replicas b and c, round robin", seen)
	}
	// A switchover: connections to the old source are cut, new ones reach
	// the new source.
	_, old := greet(t, w)
	set(Route{Write: b, Reads: []string{c}})
	if !closedByPeer(old) {
		t.Error("a write connection to the old source survived the switchover")
	}
	if got, _ := greet(t, w); got != "b" {
		t.Errorf("write port after the switchover reached %q; want b", got)
	}
	// No replicas: reads go to the source.
	set(Route{Write: b})
	if got, _ := greet(t, r); got != "b" {
		t.Errorf("read port with no replicas reached %q; want the source b", got)
	}
}

func TestWriteWaitsForASource(t *testing.T) {
	a := backend(t, "a")
	p, w, _ := newProxy(t, 10*time.Second)
	got := make(chan string, 1)
	go func() {
		name, _ := greet(t, w)
		got <- name
	}()
	// The connection waits (no source yet) until one is set.
	select {
	case name := <-got:
		t.Fatalf("a write connection with no source was answered by %q", name)
	case <-time.After(100 * time.Millisecond):
	}
	p.mu.Lock()
	g := p.groups["g"]
	p.mu.Unlock()
	g.setRoute(Route{Write: a})
	select {
	case name := <-got:
		if name != "a" {
			t.Errorf("the waiting connection reached %q; want a", name)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting write connection was not forwarded once a source was set")
	}
}

func TestWaitIsBounded(t *testing.T) {
	_, w, _ := newProxy(t, 50*time.Millisecond)
	if got, _ := greet(t, w); got != "" {
		t.Errorf("a write connection with no source reached %q", got)
	}
}

func TestACLs(t *testing.T) {
	a := backend(t, "a")
	p, w, _ := newProxy(t, time.Second)
	for _, tc := range []struct {
		acl  string
		want string
	}{
		{"10.0.0.0/8", ""},
		{"127.0.0.0/8", "a"},
		{"127.0.0.1/32", "a"},
	} {
		if err := p.Set("g", Listen{Write: w, Read: "127.0.0.1:0"}, Route{Write: a, ACLs: []netip.Prefix{netip.MustParsePrefix(tc.acl)}}); err != nil {
			t.Fatal(err)
		}
		w2, _ := p.Addrs("g")
		if got, _ := greet(t, w2); got != tc.want {
			t.Errorf("ACL %s: reached %q; want %q", tc.acl, got, tc.want)
		}
	}
}

func TestRemove(t *testing.T) {
	a := backend(t, "a")
	p, w, _ := newProxy(t, time.Second)
	if err := p.Set("g", Listen{Write: w, Read: "127.0.0.1:0"}, Route{Write: a}); err != nil {
		t.Fatal(err)
	}
	w, _ = p.Addrs("g")
	_, c := greet(t, w)
	p.Remove("g")
	if !closedByPeer(c) {
		t.Error("a connection survived its group's removal")
	}
	if _, err := net.DialTimeout("tcp", w, time.Second); err == nil {
		t.Error("the group's write port still listens after Remove")
	}
	if len(p.Groups()) != 0 {
		t.Errorf("Groups() = %v after Remove", p.Groups())
	}
}
