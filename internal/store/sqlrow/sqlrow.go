package sqlrow

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// Gate is the state gate's check of instance inst, read in the caller's
// transaction: a *store.StateError if its status is not one of allowed or,
// that passed, if unfinished reports an unfinished task of inst (else
// unfinished's error, or nil).
func Gate(inst *model.Instance, allowed []model.InstanceStatus, unfinished func() (bool, error)) error {
	if !slices.Contains(allowed, inst.Status) {
		return &store.StateError{InstanceID: inst.ID, Status: inst.Status}
	}
	busy, err := unfinished()
	if err != nil {
		return err
	}
	if busy {
		return &store.StateError{InstanceID: inst.ID, Status: inst.Status}
	}
	return nil
}

// DefaultTimes sets the times of a row about to be inserted: a zero
// created to now, then a zero updated to created.
func DefaultTimes(created, updated *time.Time, now time.Time) {
	if created.IsZero() {
		*created = now
	}
	if updated.IsZero() {
		*updated = *created
	}
}

// EncodeMeta returns the stored form of a backup's Meta: a JSON object,
// "{}" if meta is empty.
func EncodeMeta(meta map[string]string) (string, error) {
	if len(meta) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(meta)
	return string(b), err
}

// DecodeMeta returns the Meta of backup id stored as s (nil if s is
// empty).
func DecodeMeta(id, s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var meta map[string]string
	if err := json.Unmarshal([]byte(s), &meta); err != nil {
		return nil, fmt.Errorf("backup %s meta: %w", id, err)
	}
	return meta, nil
}

// EncodeValues returns the stored form of a configuration's Values: a JSON
// object, "{}" if values is nil.
func EncodeValues(values map[string]string) (string, error) {
	if values == nil {
		values = map[string]string{}
	}
	b, err := json.Marshal(values)
	return string(b), err
}

// DecodeValues returns the Values of configuration id stored as b, never
// nil.
func DecodeValues(id string, b []byte) (map[string]string, error) {
	var values map[string]string
	if err := json.Unmarshal(b, &values); err != nil {
		return nil, fmt.Errorf("configuration %s values: %w", id, err)
	}
	if values == nil {
		values = map[string]string{}
	}
	return values, nil
}

// AppendDatastore folds one row of datastores LEFT JOIN datastore_versions,
// ordered by datastore, into out: d is appended unless it is out's last
// datastore, then v (nil for a datastore without versions) is added to its
// versions.
func AppendDatastore(out []model.Datastore, d model.Datastore, v *model.DatastoreVersion) []model.Datastore {
	if n := len(out); n == 0 || out[n-1].ID != d.ID {
		out = append(out, d)
	}
	if v != nil {
		last := &out[len(out)-1]
		v.DatastoreID, v.DatastoreName = d.ID, d.Name
		last.Versions = append(last.Versions, *v)
	}
	return out
}
