package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hoard-db/hoard/internal/model"
)

// Quotas stores the per-project quotas (reference §3.4): the limits an
// admin recorded for a project. A resource without a recorded limit has
// the deployment's default, which the writes that add to a project's usage
// are given ([Quota]).
type Quotas interface {
	// ProjectQuotas returns the limits recorded for projectID (empty, not
	// nil, if none).
	ProjectQuotas(ctx context.Context, projectID string) (model.QuotaLimits, error)
	// SetProjectQuotas records limits for projectID in one transaction,
	// each replacing the resource's recorded limit (the others are kept).
	SetProjectQuotas(ctx context.Context, projectID string, limits model.QuotaLimits) error
	// QuotaUsage returns what projectID uses of every resource of
	// model.QuotaResources (zero when it has none).
	QuotaUsage(ctx context.Context, projectID string) (model.QuotaUsage, error)
	// AllProjectQuotas returns every recorded limit by project, for
	// copying a data set (hoard migrate).
	AllProjectQuotas(ctx context.Context) (map[string]model.QuotaLimits, error)
}

// Quota is the quota check of a write that adds to a project's usage (an
// instance, a replica, a backup, a larger volume). In the write's own
// transaction, serialised with every other such write of the project,
// the store reads the project's recorded limits and its usage; if the
// usage plus what the write adds exceeds a limit (the project's recorded
// one, else Defaults', else none) that the write adds to, it writes
// nothing and returns a *QuotaError. A nil *Quota checks nothing (copies,
// tests).
type Quota struct {
	Defaults model.QuotaLimits
	// RequireProject makes a write that adds a resource to a project (an
	// instance, a replica, an HA group, a backup) check, in its
	// transaction, that the project is one of the identity records'
	// (the built-in identity's); if it is not, the write writes nothing
	// and returns ErrNoProject. The check is serialised with
	// DeleteProjectIfUnused. Off for an external identity (Keystone),
	// whose projects the store does not hold.
	RequireProject bool
}

// QuotaError is the refusal of a write that would exceed its project's
// quota of each of Exceeded (in model.QuotaResources order).
type QuotaError struct {
	Exceeded []model.QuotaResource
	// Limits, Usage and Add give, per resource of Exceeded, the limit,
	// what the project used before the write, and what it would add.
	Limits model.QuotaLimits
	Usage  model.QuotaUsage
	Add    model.QuotaUsage
}

// Error is Trove's message (the sorted resources in Python's list
// syntax), followed by the numbers.
func (e *QuotaError) Error() string {
	names := make([]string, len(e.Exceeded))
	for i, r := range e.Exceeded {
		names[i] = string(r)
	}
	slices.Sort(names)
	var b strings.Builder
	fmt.Fprintf(&b, "Quota exceeded for resources: ['%s'].", strings.Join(names, "', '"))
	for _, r := range e.Exceeded {
		unit := ""
		if r == model.QuotaVolumes {
			unit = " GB"
		}
		fmt.Fprintf(&b, " %s: limit %d%s, in use %d%s, requested %d%s.", r, e.Limits[r], unit, e.Usage[r], unit, e.Add[r], unit)
	}
	return b.String()
}

// Check returns the *QuotaError of a write adding add to usage under the
// limits recorded (own) and q's defaults, or nil if it fits. Only the
// resources that the write adds to (add > 0) are checked: a project above
// a lowered limit may still delete, and do what adds nothing.
func (q *Quota) Check(own model.QuotaLimits, usage, add model.QuotaUsage) error {
	if q == nil {
		return nil
	}
	e := &QuotaError{Limits: model.QuotaLimits{}, Usage: model.QuotaUsage{}, Add: model.QuotaUsage{}}
	for _, r := range model.QuotaResources {
		if add[r] <= 0 {
			continue
		}
		limit := own.Limit(r, q.Defaults)
		if limit == model.Unlimited || usage[r]+add[r] <= limit {
			continue
		}
		e.Exceeded = append(e.Exceeded, r)
		e.Limits[r], e.Usage[r], e.Add[r] = limit, usage[r], add[r]
	}
	if len(e.Exceeded) == 0 {
		return nil
	}
	return e
}
