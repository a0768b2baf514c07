package service

import (
	"context"
	"fmt"
	"slices"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// InstanceCA implements api.Backend: every instance's certificate is
// issued by the service's one CA, whose certificate (public) is what a
// client verifies the instance with.
func (s *Instances) InstanceCA(ctx context.Context, tenantID, id string) ([]byte, error) {
	const op = "instance.ca"
	if _, err := s.st.GetInstance(ctx, tenantID, id); err != nil {
		return nil, mapStoreErr(op, id, err)
	}
	if len(s.cfg.CACert) == 0 {
		return nil, fault.New(fault.NotImplemented, op, "instances of this service serve no TLS")
	}
	return slices.Clone(s.cfg.CACert), nil
}

// groupNames are the names, besides its own address, that inst's
// certificate carries (driver.Spec.TLSNames): a member of an HA group is
// reached through the group's address (hoard's proxy forwards the
// connection, TLS and all, to the member), so a client that verifies the
// server by that address must find it in the member's certificate. An
// instance outside a group, or whose group is gone, has none. A member
// belongs to its group for its whole life: it gets the names with its
// first certificate, and they go with its files; a spec whose names
// differ from the certificate's (a member made by an older hoard) makes
// the driver issue a new one (at a render, or at once for an engine a
// restarted hoard re-attaches to).
func (s *deps) groupNames(ctx context.Context, inst *model.Instance) ([]string, error) {
	if inst.HAID == "" {
		return nil, nil
	}
	g, err := s.st.GetHAGroup(ctx, "", inst.HAID)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("service: HA group %s of instance %s: %w", inst.HAID, inst.ID, err)
	}
	if g.Address == "" || g.Address == inst.Address {
		return nil, nil
	}
	return []string{g.Address}, nil
}
