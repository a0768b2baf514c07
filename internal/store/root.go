package store

import (
	"context"
	"time"
)

// RootHistory is an optional Store capability: it records that the root
// user of an instance's engine was enabled (Trove's root history), so that
// the API can answer "was root ever enabled" after root was disabled
// again. The record goes away with the instance.
type RootHistory interface {
	// RecordRootEnabled records that root was enabled on instance id at
	// at by user (the API user's id). The first record is kept; repeats are
	// no-ops. ErrNotFound if the instance does not exist.
	RecordRootEnabled(ctx context.Context, id, user string, at time.Time) error
	// RootEnabledAt returns when root was first enabled on instance id, or
	// ErrNotFound if it never was.
	RootEnabledAt(ctx context.Context, id string) (time.Time, error)
	// ListRootHistory returns every record, ordered by instance id (for
	// copying a data set: RecordRootEnabled writes one back as it was).
	ListRootHistory(ctx context.Context) ([]RootRecord, error)
}

// RootRecord is the root history of one instance: the first enabling.
type RootRecord struct {
	InstanceID string
	UserID     string // the API user who enabled root; "" if not known
	Enabled    time.Time
}
