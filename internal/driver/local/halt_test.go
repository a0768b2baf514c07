package local

import (
	"context"
	"slices"
	"testing"

	"github.com/hoard-db/hoard/internal/driver"
)

// TestHaltAll: a new driver (hoard stop-all) stops every running engine by
// its handle, keeps its wish to run, and the next Recover starts it again.
func TestHaltAll(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve"})
	ctx := context.Background()
	a := h.driver(nil)
	var specs []driver.Spec
	for _, id := range []string{"ha1", "ha2"} {
		s := h.spec(id)
		if err := a.Provision(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := a.Start(ctx, s); err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	before := map[string]*handle{"ha1": h.handle("ha1"), "ha2": h.handle("ha2")}
	a.Close()

	b := h.driver(nil)
	halted, err := b.HaltAll(ctx)
	if err != nil || !slices.Equal(halted, []string{"ha1", "ha2"}) {
		t.Fatalf("HaltAll = %v, %v", halted, err)
	}
	for id, hd := range before {
		if !gone(hd.PID, hd.StartTime) {
			t.Errorf("%s: engine still runs after HaltAll", id)
		}
		if after := h.handle(id); !after.Want || after.PID != 0 {
			t.Errorf("%s: handle after HaltAll = %+v, want want_running and no pid", id, after)
		}
	}
	if again, err := b.HaltAll(ctx); err != nil || len(again) != 0 {
		t.Errorf("HaltAll again = %v, %v; want nothing to halt", again, err)
	}
	b.Close()

	c := h.driver(nil)
	if err := c.Recover(ctx, specs); err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		waitReady(t, s)
		if err := c.Stop(ctx, s.InstanceID); err != nil {
			t.Fatal(err)
		}
	}
}
