package backup

import (
	"context"
	"errors"
	"slices"
)

// LegacyExt is the extension of the artifact keys hoard wrote before keys
// were named by their engine's format: every artifact was
// "<backup id>.xbstream.gz", whatever its engine.
const LegacyExt = ".xbstream.gz"

// Keys returns the keys the artifact of backup id may be stored under in
// st, the likeliest first and without repeats:
//
//   - the key of location, the backup's recorded [Storage.Location], if it
//     is one of st's (see [Storage.KeyOf]);
//   - id+ext, the key a backup of its engine gets now (left out if ext is
//     empty);
//   - id+[LegacyExt], the key of a backup made by an earlier hoard.
//
// A backup that did not complete has no location but may still have an
// artifact (stored before its record was updated): deleting every key of
// Keys removes it. Every key names the backup's own id, so none is another
// backup's.
func Keys(st Storage, id, location, ext string) []string {
	var keys []string
	add := func(k string) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if location != "" {
		if k, err := st.KeyOf(location); err == nil {
			add(k)
		}
	}
	if ext != "" {
		add(id + ext)
	}
	add(id + LegacyExt)
	return keys
}

// Find returns the first of keys (not empty) under which st holds an
// artifact. If there is none, it returns keys[0] and an error wrapping
// ErrNotFound; if st cannot be asked, keys[0] and that error.
func Find(ctx context.Context, st Storage, keys []string) (string, error) {
	var first error
	for _, k := range keys {
		_, err := st.Stat(ctx, k)
		if err == nil {
			return k, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return keys[0], err
		}
		if first == nil {
			first = err
		}
	}
	return keys[0], first
}

// DeleteAll deletes the artifacts under keys (a missing one is not an
// error) and returns the errors of those it could not delete, joined.
func DeleteAll(ctx context.Context, st Storage, keys []string) error {
	var errs []error
	for _, k := range keys {
		if err := st.Delete(ctx, k); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
