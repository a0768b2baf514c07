package sqlrow

import (
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// CheckReplicaSource is store.Instances.CreateReplica's check of source
// src, read (and locked, where the backend can) in the caller's
// transaction: its tenant, its state gate (unfinished reports an
// unfinished task of src), that it is no replica, and its count of
// replicas (count reads it) against max. It returns the first refusal.
func CheckReplicaSource(src, replica *model.Instance, allowed []model.InstanceStatus, max int,
	unfinished func() (bool, error), count func() (int, error)) error {
	if src.TenantID != replica.TenantID {
		return store.ErrNotFound
	}
	if src.ReplicaOf != "" {
		return store.ErrIsReplica
	}
	if src.Deleting {
		return &store.StateError{InstanceID: src.ID, Status: src.Status}
	}
	if err := Gate(src, allowed, unfinished); err != nil {
		return err
	}
	if max > 0 {
		n, err := count()
		if err != nil {
			return err
		}
		if n >= max {
			return store.ErrReplicaLimit
		}
	}
	return nil
}
