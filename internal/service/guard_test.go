package service

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// lostEngine is memEngine after a tenant's root took hoard's account
// away: ListUsers fails as listErr, CheckAdmin says the account is lost.
type lostEngine struct {
	*memEngine
	listErr error
}

func (l lostEngine) ListUsers(context.Context, datastore.Conn) ([]datastore.UserInfo, error) {
	return nil, l.listErr
}

func (lostEngine) CheckAdmin(context.Context, datastore.Conn) error {
	return fmt.Errorf("mem: %w", datastore.ErrAdminLost)
}

// TestAdminLost checks that an engine refusing hoard's account makes the
// call 422 (never 500) and the instance BLOCKED with a fault, whether the
// engine said so (ErrAdminLost) or only the check afterwards does.
func TestAdminLost(t *testing.T) {
	for _, tt := range []struct {
		name    string
		listErr error
	}{
		{"engine says so", fmt.Errorf("mem: connect: %w: access denied", datastore.ErrAdminLost)},
		{"check finds it", errors.New("mem: permission denied for table")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			s, mem, ids := newTestService(t, model.StatusActive)
			s.cfg.Engines["mem"] = lostEngine{memEngine: mem, listErr: tt.listErr}
			id := ids["mem"]
			_, _, err := s.ListUsers(ctx, "t1", id, store.Page{Limit: 10})
			if !fault.Is(err, fault.Unprocessable) {
				t.Fatalf("ListUsers = %v (kind %v), want 422", err, fault.KindOf(err))
			}
			inst, err := s.st.GetInstance(ctx, "t1", id)
			if err != nil {
				t.Fatal(err)
			}
			if inst.Status != model.StatusBlocked || inst.Fault == nil || inst.Fault.Message != adminLostMessage {
				t.Errorf("instance = %s, fault %+v; want BLOCKED with %q", inst.Status, inst.Fault, adminLostMessage)
			}
		})
	}
}

// sharedDriver runs every instance as one OS user.
type sharedDriver struct{ stubDriver }

func (sharedDriver) IsolatesInstances() bool { return false }

// TestRootNeedsIsolation checks that root is refused (403) where instances
// share one OS user, unless the operator allows it.
func TestRootNeedsIsolation(t *testing.T) {
	ctx := t.Context()
	s, mem, ids := newTestService(t, model.StatusActive)
	s.cfg.Driver = sharedDriver{}
	if _, _, err := s.EnableRoot(ctx, "t1", ids["mem"], ""); !fault.Is(err, fault.Forbidden) || mem.root {
		t.Errorf("EnableRoot with shared users = %v (root %v), want 403 and no root", err, mem.root)
	}
	s.cfg.AllowSharedRoot = true
	if _, _, err := s.EnableRoot(ctx, "t1", ids["mem"], ""); err != nil || !mem.root {
		t.Errorf("EnableRoot allowed by the operator = %v (root %v)", err, mem.root)
	}
}
