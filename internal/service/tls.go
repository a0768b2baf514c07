package service

import (
	"context"
	"slices"

	"github.com/hoard-db/hoard/internal/fault"
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
