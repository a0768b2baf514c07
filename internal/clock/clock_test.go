package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeSource answers the local time shifted by skew, after taking rtt of
// (fake) local time to answer; the first reading waits slow more before
// the server reads its clock (a connection being made).
type fakeSource struct {
	now   *time.Time
	skew  time.Duration
	rtt   time.Duration
	slow  time.Duration
	reads int
	err   error
}

func (f *fakeSource) ReferenceTime(context.Context) (time.Time, error) {
	if f.reads == 0 {
		*f.now = f.now.Add(f.slow)
	}
	f.reads++
	*f.now = f.now.Add(f.rtt / 2)
	ref := f.now.Add(f.skew)
	*f.now = f.now.Add(f.rtt / 2)
	return ref, f.err
}

func TestSync(t *testing.T) {
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		skew time.Duration
		rtt  time.Duration
		slow time.Duration
	}{
		{"in step", 0, 2 * time.Millisecond, 0},
		{"reference ahead", 90 * time.Second, 40 * time.Millisecond, 0},
		{"reference behind", -3 * time.Hour, 0, 0},
		{"slow round trip", 5 * time.Second, 800 * time.Millisecond, 0},
		{"first reading pays for a connection", 2 * time.Second, 4 * time.Millisecond, 3 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := base
			c := New(&fakeSource{now: &now, skew: tc.skew, rtt: tc.rtt, slow: tc.slow}, nil)
			c.local = func() time.Time { return now }
			if got := c.Now(); !got.Equal(base) {
				t.Fatalf("Now before Sync = %v, want the local time %v", got, base)
			}
			if err := c.Sync(t.Context()); err != nil {
				t.Fatal(err)
			}
			if c.Offset() != tc.skew {
				t.Errorf("Offset = %v, want %v", c.Offset(), tc.skew)
			}
			if want := now.Add(tc.skew); !c.Now().Equal(want) {
				t.Errorf("Now = %v, want %v", c.Now(), want)
			}
		})
	}
}

func TestSyncErrorKeepsOffset(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	src := &fakeSource{now: &now, skew: time.Minute}
	c := New(src, nil)
	c.local = func() time.Time { return now }
	if err := c.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	src.skew, src.err = time.Hour, errors.New("connection refused")
	if err := c.Sync(t.Context()); err == nil {
		t.Fatal("Sync with a failing source = nil, want an error")
	}
	if c.Offset() != time.Minute {
		t.Errorf("Offset after a failed Sync = %v, want the last one (1m)", c.Offset())
	}
}
