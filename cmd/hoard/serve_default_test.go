package main

import (
	"slices"
	"testing"
)

// TestDefaultDatastoreIsOffered checks that the datastore of a create that
// names none is one an engine hoard wires offers.
func TestDefaultDatastoreIsOffered(t *testing.T) {
	for _, e := range newEngines(nil) {
		if slices.Contains(e.Datastores(), defaultDatastore) {
			return
		}
	}
	t.Errorf("no engine offers the default datastore %q", defaultDatastore)
}
