package groupproxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Route is where a group's connections go.
type Route struct {
	// Write is the current source's "host:port"; "" while the group has
	// no writable source (new write connections then wait).
	Write string
	// Reads are the replicas' "host:port"; with none, reads go to Write.
	Reads []string
	// ACLs are the client networks allowed; none allows every address.
	ACLs []netip.Prefix
}

// Listen is where a group's ports are.
type Listen struct {
	Write string // "host:port" of the write listener
	Read  string // "host:port" of the read listener
}

// Proxy serves every group's listeners. Its zero value is not usable: use
// New.
type Proxy struct {
	log  *slog.Logger
	wait time.Duration
	dial time.Duration

	mu     sync.Mutex
	groups map[string]*group
	closed bool
}

// New returns a proxy. A write connection made while its group has no
// source waits up to wait for one.
func New(log *slog.Logger, wait time.Duration) *Proxy {
	return &Proxy{log: log, wait: wait, dial: 3 * time.Second, groups: map[string]*group{}}
}

type group struct {
	id     string
	listen Listen
	lns    []net.Listener

	mu      sync.Mutex
	route   Route
	changed chan struct{} // closed and replaced at every route change
	next    int           // round robin position of the reads
	conns   map[*conn]struct{}
	closed  bool
}

type conn struct {
	backend string
	write   bool
	client  net.Conn
	server  net.Conn
}

func (c *conn) close() {
	c.client.Close()
	if c.server != nil {
		c.server.Close()
	}
}

// Set opens group id's listeners if they are not open yet (or moved) and
// routes its connections by r from now on, closing those that r no longer
// allows (a write connection to an old source, a read connection to an
// instance that left the replicas).
func (p *Proxy) Set(id string, l Listen, r Route) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("groupproxy: closed")
	}
	g := p.groups[id]
	if g != nil && g.listen != l {
		g.shut()
		delete(p.groups, id)
		g = nil
	}
	if g == nil {
		g = &group{id: id, listen: l, changed: make(chan struct{}), conns: map[*conn]struct{}{}}
		for _, addr := range []string{l.Write, l.Read} {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				g.shut()
				return err
			}
			g.lns = append(g.lns, ln)
		}
		p.groups[id] = g
		go p.serve(g, g.lns[0], true)
		go p.serve(g, g.lns[1], false)
		p.log.Info("HA group listening", "ha_id", id, "write", l.Write, "read", l.Read)
	}
	g.setRoute(r)
	return nil
}

// Remove closes group id's listeners and connections.
func (p *Proxy) Remove(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if g := p.groups[id]; g != nil {
		g.shut()
		delete(p.groups, id)
	}
}

// Close closes every group.
func (p *Proxy) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for id, g := range p.groups {
		g.shut()
		delete(p.groups, id)
	}
	return nil
}

// Groups returns the ids of the groups served.
func (p *Proxy) Groups() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, 0, len(p.groups))
	for id := range p.groups {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (g *group) shut() {
	for _, ln := range g.lns {
		ln.Close()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for c := range g.conns {
		c.close()
	}
	close(g.changed)
	g.changed = make(chan struct{})
}

func (g *group) setRoute(r Route) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if sameRoute(g.route, r) {
		return // the service sets every group's route each round
	}
	g.route = r
	for c := range g.conns {
		if c.write && c.backend != r.Write || !c.write && !slices.Contains(g.readsLocked(), c.backend) {
			c.close()
		}
	}
	close(g.changed)
	g.changed = make(chan struct{})
}

func sameRoute(a, b Route) bool {
	return a.Write == b.Write && slices.Equal(a.Reads, b.Reads) && slices.Equal(a.ACLs, b.ACLs)
}

// readsLocked returns where read connections may go.
func (g *group) readsLocked() []string {
	if len(g.route.Reads) > 0 {
		return g.route.Reads
	}
	if g.route.Write != "" {
		return []string{g.route.Write}
	}
	return nil
}

func (g *group) allowed(remote net.Addr) bool {
	g.mu.Lock()
	acls := g.route.ACLs
	g.mu.Unlock()
	if len(acls) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(remote.String())
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, p := range acls {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func (p *Proxy) serve(g *group, ln net.Listener, write bool) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed
		}
		if !g.allowed(c.RemoteAddr()) {
			p.log.Warn("HA group connection refused by its ACLs", "ha_id", g.id, "remote", c.RemoteAddr().String())
			c.Close()
			continue
		}
		go p.handle(g, c, write)
	}
}

// pick returns the backend of a new connection, waiting (bounded) for a
// source if a write connection finds none.
func (p *Proxy) pick(g *group, write bool) (string, bool) {
	deadline := time.NewTimer(p.wait)
	defer deadline.Stop()
	for {
		g.mu.Lock()
		if g.closed {
			g.mu.Unlock()
			return "", false
		}
		var backend string
		if write {
			backend = g.route.Write
		} else if reads := g.readsLocked(); len(reads) > 0 {
			backend = reads[g.next%len(reads)]
			g.next++
		}
		changed := g.changed
		g.mu.Unlock()
		if backend != "" {
			return backend, true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return "", false
		}
	}
}

func (p *Proxy) handle(g *group, client net.Conn, write bool) {
	backend, ok := p.pick(g, write)
	if !ok {
		client.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.dial)
	server, err := (&net.Dialer{}).DialContext(ctx, "tcp", backend)
	cancel()
	if err != nil {
		p.log.Warn("HA group backend unreachable", "ha_id", g.id, "backend", backend, "err", err)
		client.Close()
		return
	}
	c := &conn{backend: backend, write: write, client: client, server: server}
	g.mu.Lock()
	// The route may have changed while dialling.
	stale := g.closed || (write && g.route.Write != backend) || (!write && !slices.Contains(g.readsLocked(), backend))
	if !stale {
		g.conns[c] = struct{}{}
	}
	g.mu.Unlock()
	if stale {
		c.close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { copyHalf(server, client); done <- struct{}{} }()
	go func() { copyHalf(client, server); done <- struct{}{} }()
	<-done
	c.close()
	<-done
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

func copyHalf(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// Addrs returns the addresses group id's listeners are bound to ("" if the
// group is not served).
func (p *Proxy) Addrs(id string) (write, read string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.groups[id]
	if g == nil {
		return "", ""
	}
	return g.lns[0].Addr().String(), g.lns[1].Addr().String()
}
