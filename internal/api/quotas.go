package api

import (
	"context"
	"net/http"
	"time"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/service"
)

// QuotaBackend is an optional Backend capability: projects' quotas
// (reference §3.3, §3.4). Without it GET /limits shows no absolute limits
// and the mgmt/quotas routes answer 501 notImplemented.
type QuotaBackend interface {
	// Limits returns the limits in force for a project and its usage.
	Limits(ctx context.Context, projectID string) (model.QuotaLimits, model.QuotaUsage, error)
	// ShowQuotas returns a project's quota, one row per resource.
	ShowQuotas(ctx context.Context, projectID string) ([]service.QuotaRow, error)
	// UpdateQuotas records limits for a project and returns them.
	UpdateQuotas(ctx context.Context, projectID string, limits model.QuotaLimits) (model.QuotaLimits, error)
}

var _ QuotaBackend = (*service.Service)(nil)

// quotaRoutes registers §3.3 and §3.4 (called from routes).
func (s *Server) quotaRoutes(t string) {
	s.handle("GET "+t+"limits", s.listLimits)
	s.handle("GET "+t+"mgmt/quotas/{project}", s.showQuotas)
	s.handle("PUT "+t+"mgmt/quotas/{project}", s.updateQuotas)
}

func (s *Server) quotas() (QuotaBackend, error) {
	qb, ok := s.b.(QuotaBackend)
	if !ok {
		return nil, fault.New(fault.NotImplemented, "api.quota", "Quotas are not implemented.")
	}
	return qb, nil
}

// rateLimitView is one rate limit in force (Trove's limit object). hoard
// has one bucket per project for every verb and path, so it shows one
// limit, for verb "*".
type rateLimitView struct {
	Verb          string `json:"verb"`
	URI           string `json:"uri"`
	Regex         string `json:"regex"`
	Value         int    `json:"value"`
	Remaining     int    `json:"remaining"`
	Unit          string `json:"unit"`
	NextAvailable string `json:"nextAvailable"`
}

// listLimits serves GET /v1.0/{tenant}/limits: first the absolute limits
// (Trove's "max_<resource>", -1 for none) with the project's usage
// ("total_<resource>_used"), then the rate limits in force (none when rate
// limiting is off). The request itself has taken its token.
func (s *Server) listLimits(w http.ResponseWriter, r *http.Request) error {
	tenant := r.PathValue("tenant")
	abs := map[string]any{"verb": "ABSOLUTE"}
	if qb, ok := s.b.(QuotaBackend); ok {
		limits, usage, err := qb.Limits(r.Context(), tenant)
		if err != nil {
			return err
		}
		for _, res := range model.QuotaResources {
			abs["max_"+string(res)] = limits[res]
			abs["total_"+string(res)+"_used"] = usage[res]
		}
	}
	out := []any{abs}
	if s.limiter != nil {
		remaining, next := s.limiter.peek(tenant)
		if remaining == 0 {
			next = next.Add(time.Second - 1) // whole seconds, not before the token
		}
		out = append(out, rateLimitView{
			Verb: "*", URI: "*", Regex: ".*", Value: s.cfg.RateLimit, Remaining: remaining, Unit: "MINUTE",
			NextAvailable: next.UTC().Truncate(time.Second).Format(time.RFC3339),
		})
	}
	return writeJSON(w, http.StatusOK, map[string][]any{"limits": out})
}

// quotaView is one resource of Trove's management quota view.
type quotaView struct {
	Resource string `json:"resource"`
	InUse    int    `json:"in_use"`
	Limit    int    `json:"limit"`
	Reserved int    `json:"reserved"`
}

// showQuotas serves GET /v1.0/{tenant}/mgmt/quotas/{project}: an admin
// may read any project's quota, anyone else only their own (Trove).
func (s *Server) showQuotas(w http.ResponseWriter, r *http.Request) error {
	qb, err := s.quotas()
	if err != nil {
		return err
	}
	project := r.PathValue("project")
	ri := reqInfoFrom(r.Context())
	if !ri.isAdmin() && (ri.principal == nil || project != ri.principal.ProjectID) {
		return fault.New(fault.Forbidden, "api.quota.show", "Only an admin may see the quotas of another project.")
	}
	rows, err := qb.ShowQuotas(r.Context(), project)
	if err != nil {
		return err
	}
	views := make([]quotaView, 0, len(rows))
	for _, q := range rows {
		views = append(views, quotaView{Resource: string(q.Resource), InUse: q.InUse, Limit: q.Limit, Reserved: q.Reserved})
	}
	return writeJSON(w, http.StatusOK, map[string][]quotaView{"quotas": views})
}

// updateQuotas serves PUT /v1.0/{tenant}/mgmt/quotas/{project} (admins
// only): 200 with the limits set, {"quotas": {"<resource>": limit}}.
func (s *Server) updateQuotas(w http.ResponseWriter, r *http.Request) error {
	qb, err := s.quotas()
	if err != nil {
		return err
	}
	if !reqInfoFrom(r.Context()).isAdmin() {
		return fault.New(fault.Forbidden, "api.quota.update", "Only an admin may change quotas.")
	}
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	limits, err := decodeQuotaUpdate(body)
	if err != nil {
		return err
	}
	set, err := qb.UpdateQuotas(r.Context(), r.PathValue("project"), limits)
	if err != nil {
		return err
	}
	out := make(map[string]int, len(set))
	for res, v := range set {
		out[string(res)] = v
	}
	return writeJSON(w, http.StatusOK, map[string]map[string]int{"quotas": out})
}
