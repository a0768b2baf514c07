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

// Sync measures the offset once: the reference time against the local time
// halfway through the round trip that read it. On error the offset is kept.
func (c *Synced) Sync(ctx context.Context) error {
	t0 := c.local()
	ref, err := c.src.ReferenceTime(ctx)
	t1 := c.local()
	if err != nil {
		return fmt.Errorf("clock: read reference time: %w", err)
	}
	mid := t0.Add(t1.Sub(t0) / 2)
	off := ref.Sub(mid)
	old := time.Duration(c.offset.Swap(int64(off)))
	if abs(off) > warnOffset && abs(off-old) > warnOffset/2 {
		c.log.Warn("this host's clock is off from the metadata store's; hoard corrects its leases, but synchronise the clocks (NTP)",
			"offset", off.Round(time.Millisecond).String())
	}
	return nil
}

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
			if err := c.Sync(ctx); err != nil && ctx.Err() == nil {
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
