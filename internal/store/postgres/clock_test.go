package postgres

import (
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/clock"
)

var _ clock.Source = (*Store)(nil)

// TestReferenceTime: the server's clock, read through the store, moves on and
// is this host's (the test server runs here) give or take the round trip.
func TestReferenceTime(t *testing.T) {
	s := openTemp(t)
	before := time.Now()
	a, err := s.ReferenceTime(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.ReferenceTime(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	if !b.After(a) {
		t.Errorf("second reading %v is not after the first %v", b, a)
	}
	if a.Before(before.Add(-time.Second)) || b.After(after.Add(time.Second)) {
		t.Errorf("server time %v..%v outside this host's %v..%v", a, b, before, after)
	}
	c := clock.New(s, nil)
	if err := c.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if off := c.Offset(); off > time.Second || off < -time.Second {
		t.Errorf("offset from a server on this host = %v, want under 1s", off)
	}
}
