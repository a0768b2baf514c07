package clock

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// Source reads a reference clock. The PostgreSQL store is one: every
// replica sharing it reads the same clock.
type Source interface {
	ReferenceTime(ctx context.Context) (time.Time, error)
}

// warnOffset is the offset from the reference beyond which Sync logs a
// warning: the host's clock is not synchronised (NTP).
const warnOffset = time.Second

// Synced is the local clock corrected by its measured offset from a
// Source. Its zero offset (before the first Sync) is the local clock.
type Synced struct {
	src    Source
	log    *slog.Logger
	offset atomic.Int64 // nanoseconds to add to the local clock
	local  func() time.Time
}

// New returns a clock following src; log may be nil.
func New(src Source, log *slog.Logger) *Synced {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Synced{src: src, log: log, local: time.Now}
}

// Now returns the reference time as this host best knows it.
func (c *Synced) Now() time.Time {
	return c.local().Add(time.Duration(c.offset.Load()))
}

// Offset returns the correction currently applied to the local clock.
func (c *Synced) Offset() time.Duration { return time.Duration(c.offset.Load()) }

// samples is how many readings Sync takes; it keeps the one with the
// shortest round trip (the first may also pay for a connection).
const samples = 3

// Sync measures the offset: the reference time against the local time
// halfway through the round trip that read it, from the reading with the
// shortest round trip. On error the offset is kept.
func (c *Synced) Sync(ctx context.Context) error {
	var (
		off  time.Duration
		best = time.Duration(-1)
	)
	for range samples {
		t0 := c.local()
		ref, err := c.src.ReferenceTime(ctx)
		t1 := c.local()
		if err != nil {
			return fmt.Errorf("clock: read reference time: %w", err)
		}
		if rtt := t1.Sub(t0); best < 0 || rtt < best {
			best, off = rtt, ref.Sub(t0.Add(rtt/2))
		}
	}
	old := time.Duration(c.offset.Swap(int64(off)))
	if abs(off) > warnOffset && abs(off-old) > warnOffset/2 {
		c.log.Warn("this host's clock is off from the metadata store's; hoard corrects its leases, but synchronise the clocks (NTP)",
			"offset", off.Round(time.Millisecond).String())
	}
	return nil
}

// syncTimeout bounds one Sync of Run.
const syncTimeout = 10 * time.Second

// Run calls Sync every period until ctx ends; failures are logged and the
// last offset kept.
func (c *Synced) Run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sctx, cancel := context.WithTimeout(ctx, syncTimeout)
			err := c.Sync(sctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				c.log.Warn("clock offset not refreshed", "err", err)
			}
		}
	}
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
