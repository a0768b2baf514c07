package service

import (
	"context"

	"github.com/hoard-db/hoard/internal/datastore"
)

// The instance calls Rackspace refuses on the members of an HA group
// (API reference §17.1): they would change a member behind its group's
// back. Each shadows the call of the same name of the part that serves it
// (Service embeds them), refusing members with 422 (refuseMember); the
// groups themselves call the parts directly. Databases and users may
// still be changed on a group's source, and everything may be read.

// DeleteInstance implements api.Backend.
func (s *Service) DeleteInstance(ctx context.Context, tenantID, id string) error {
	if err := s.refuseMember(ctx, "instance.delete", tenantID, id); err != nil {
		return err
	}
	return s.Instances.DeleteInstance(ctx, tenantID, id)
}

// RestartInstance implements api.Backend.
func (s *Service) RestartInstance(ctx context.Context, tenantID, id string) error {
	if err := s.refuseMember(ctx, "instance.restart", tenantID, id); err != nil {
		return err
	}
	return s.Instances.RestartInstance(ctx, tenantID, id)
}

// ResizeFlavor implements api.Backend.
func (s *Service) ResizeFlavor(ctx context.Context, tenantID, id, flavorRef string) error {
	if err := s.refuseMember(ctx, "instance.resize", tenantID, id); err != nil {
		return err
	}
	return s.Instances.ResizeFlavor(ctx, tenantID, id, flavorRef)
}

// ResizeVolume implements api.Backend.
func (s *Service) ResizeVolume(ctx context.Context, tenantID, id string, size int) error {
	if err := s.refuseMember(ctx, "instance.resize_volume", tenantID, id); err != nil {
		return err
	}
	return s.Instances.ResizeVolume(ctx, tenantID, id, size)
}

// DetachReplica implements api.Backend.
func (s *Service) DetachReplica(ctx context.Context, tenantID, id string) error {
	if err := s.refuseMember(ctx, "instance.detach_replica", tenantID, id); err != nil {
		return err
	}
	return s.Instances.DetachReplica(ctx, tenantID, id)
}

// PromoteReplica implements api.Backend.
func (s *Service) PromoteReplica(ctx context.Context, tenantID, id string) error {
	if err := s.refuseMember(ctx, "instance.promote_to_replica_source", tenantID, id); err != nil {
		return err
	}
	return s.Instances.PromoteReplica(ctx, tenantID, id)
}

// EjectReplicaSource implements api.Backend.
func (s *Service) EjectReplicaSource(ctx context.Context, tenantID, id string) error {
	if err := s.refuseMember(ctx, "instance.eject_replica_source", tenantID, id); err != nil {
		return err
	}
	return s.Instances.EjectReplicaSource(ctx, tenantID, id)
}

// AttachConfiguration implements api.Backend.
func (s *Service) AttachConfiguration(ctx context.Context, tenantID, id, configID string) error {
	if err := s.refuseMember(ctx, "instance.configuration", tenantID, id); err != nil {
		return err
	}
	return s.Configurations.AttachConfiguration(ctx, tenantID, id, configID)
}

// DetachConfiguration implements api.Backend.
func (s *Service) DetachConfiguration(ctx context.Context, tenantID, id string) error {
	if err := s.refuseMember(ctx, "instance.configuration", tenantID, id); err != nil {
		return err
	}
	return s.Configurations.DetachConfiguration(ctx, tenantID, id)
}

// EnableRoot implements api.Backend: root on a member could break its
// replication.
func (s *Service) EnableRoot(ctx context.Context, tenantID, id string, password datastore.Secret) (string, datastore.Secret, error) {
	if err := s.refuseMember(ctx, "instance.root", tenantID, id); err != nil {
		return "", "", err
	}
	return s.Schema.EnableRoot(ctx, tenantID, id, password)
}
