package service

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// Quotas is the part of the service that shows and changes projects'
// quotas (reference §3.3, §3.4). Every write that adds to a project's
// usage (an instance, a replica, a backup, a larger volume) is checked by
// the store in its own transaction (store.Quota): two concurrent creates
// never both take the last place. A project's limit of a resource is the
// one an admin recorded for it, else the deployment's default (Config's
// MaxInstances, MaxProjectVolumeGB, Backups.MaxBackups and
// MaxProjectReplicas).
type Quotas struct {
	*deps
}

// maxQuotaLimit bounds a recorded limit (a sum of them must not overflow
// an int32 column).
const maxQuotaLimit = 1 << 30

// QuotaRow is one resource of a project's quota: Trove's management view.
type QuotaRow struct {
	Resource model.QuotaResource
	InUse    int
	// Limit is the limit in force (the project's own, else the default);
	// model.Unlimited for none.
	Limit int
	// Reserved is always 0: a reservation is the write itself.
	Reserved int
}

// defaultQuotas returns the deployment's default limits.
func (s *deps) defaultQuotas() model.QuotaLimits {
	lim := func(n int) int {
		if n <= 0 {
			return model.Unlimited
		}
		return n
	}
	return model.QuotaLimits{
		model.QuotaInstances: lim(s.cfg.MaxInstances),
		model.QuotaVolumes:   lim(s.cfg.MaxProjectVolumeGB),
		model.QuotaBackups:   lim(s.cfg.Backups.MaxBackups),
		model.QuotaReplicas:  lim(s.cfg.MaxProjectReplicas),
	}
}

// quota is the quota check given to the store's writes; with
// Config.RequireProjects it also checks that the project exists.
func (s *deps) quota() *store.Quota {
	return &store.Quota{Defaults: s.defaultQuotas(), RequireProject: s.cfg.RequireProjects}
}

// quotaFault returns the 413 overLimit of a write the store refused for
// its quota (Trove's message naming the resources, with the numbers), the
// 404 of one it refused because its project is gone (deleted while the
// request was under way), or nil if err is neither.
func quotaFault(op string, err error) error {
	var qe *store.QuotaError
	if errors.As(err, &qe) {
		return fault.Wrap(fault.OverLimit, op, qe.Error(), err)
	}
	if errors.Is(err, store.ErrNoProject) {
		return fault.Wrap(fault.NotFound, op, "The project does not exist (it was deleted).", err)
	}
	return nil
}

// checkQuota refuses (413) a write that would add add to projectID's
// usage beyond its quota, as the store would. It is a first look outside
// the write's transaction, for a request that makes several writes (a
// replica_count): the store's check of each write is the one that holds.
func (s *deps) checkQuota(ctx context.Context, op, projectID string, add model.QuotaUsage) error {
	own, err := s.st.ProjectQuotas(ctx, projectID)
	if err != nil {
		return err
	}
	usage, err := s.st.QuotaUsage(ctx, projectID)
	if err != nil {
		return err
	}
	if err := s.quota().Check(own, usage, add); err != nil {
		return quotaFault(op, err)
	}
	return nil
}

// Limits returns the limits in force for projectID and its usage
// (GET /limits).
func (s *Quotas) Limits(ctx context.Context, projectID string) (model.QuotaLimits, model.QuotaUsage, error) {
	own, err := s.st.ProjectQuotas(ctx, projectID)
	if err != nil {
		return nil, nil, err
	}
	usage, err := s.st.QuotaUsage(ctx, projectID)
	if err != nil {
		return nil, nil, err
	}
	def := s.defaultQuotas()
	limits := model.QuotaLimits{}
	for _, r := range model.QuotaResources {
		limits[r] = own.Limit(r, def)
	}
	return limits, usage, nil
}

// ShowQuotas returns projectID's quota, one row per resource
// (GET /mgmt/quotas/{project}); 404 for an unknown project.
func (s *Quotas) ShowQuotas(ctx context.Context, projectID string) ([]QuotaRow, error) {
	const op = "quota.show"
	if err := s.checkProject(ctx, op, projectID); err != nil {
		return nil, err
	}
	limits, usage, err := s.Limits(ctx, projectID)
	if err != nil {
		return nil, err
	}
	rows := make([]QuotaRow, 0, len(model.QuotaResources))
	for _, r := range model.QuotaResources {
		rows = append(rows, QuotaRow{Resource: r, InUse: usage[r], Limit: limits[r]})
	}
	return rows, nil
}

// UpdateQuotas records limits for projectID (PUT /mgmt/quotas/{project})
// and returns them, as Trove does. An unknown resource is 404 (Trove's
// QuotaResourceUnknown), a limit below -1 or above 2^30 is 400, an unknown
// project 404. A limit below the usage is accepted: it refuses what would
// add to the resource, not what exists.
func (s *Quotas) UpdateQuotas(ctx context.Context, projectID string, limits model.QuotaLimits) (model.QuotaLimits, error) {
	const op = "quota.update"
	if len(limits) == 0 {
		return nil, fault.New(fault.Invalid, op, "No quotas to update were given.")
	}
	for _, r := range model.QuotaResources { // a stable order for the message
		if v, ok := limits[r]; ok && (v < model.Unlimited || v > maxQuotaLimit) {
			return nil, fault.Errorf(fault.Invalid, op, "Quota limit of %s must be -1 (no limit) or between 0 and %d, %d cannot be accepted.", r, maxQuotaLimit, v)
		}
	}
	for r := range limits {
		if !r.Known() {
			return nil, fault.Errorf(fault.NotFound, op, "Quota resource %s cannot be found: the resources are instances, volumes, backups and replicas.", truncate(string(r), 64))
		}
	}
	if err := s.checkProject(ctx, op, projectID); err != nil {
		return nil, err
	}
	if err := s.st.SetProjectQuotas(ctx, projectID, limits); err != nil {
		return nil, err
	}
	s.log.Info("project quotas updated", "project_id", projectID, "quotas", fmt.Sprint(limits))
	return maps.Clone(limits), nil
}

// checkProject answers 404 for a project the identity service does not
// know.
func (s *Quotas) checkProject(ctx context.Context, op, projectID string) error {
	if _, err := s.st.GetProject(ctx, projectID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fault.Errorf(fault.NotFound, op, "Project %s cannot be found.", truncate(projectID, 64))
		}
		return err
	}
	return nil
}
