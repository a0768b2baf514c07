package service

import (
	"context"
	"fmt"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// ProjectResources counts what tenant projectID owns: instances (in any
// status, deleting ones included), backups and configuration groups. The
// identity service asks it before deleting a project (it implements
// identity.ResourceCounter).
func (s *Service) ProjectResources(ctx context.Context, projectID string) (model.ProjectResources, error) {
	var r model.ProjectResources
	var err error
	if r.Instances, err = s.st.CountInstances(ctx, projectID); err != nil {
		return r, fmt.Errorf("service: count instances of %s: %w", projectID, err)
	}
	if r.Backups, err = s.st.CountBackups(ctx, projectID); err != nil {
		return r, fmt.Errorf("service: count backups of %s: %w", projectID, err)
	}
	page := store.Page{Limit: 500}
	for {
		groups, err := s.st.ListConfigurations(ctx, projectID, page)
		if err != nil {
			return r, fmt.Errorf("service: list configurations of %s: %w", projectID, err)
		}
		r.Configurations += len(groups)
		if len(groups) < page.Limit {
			return r, nil
		}
		page.Marker = groups[len(groups)-1].ID
	}
}
