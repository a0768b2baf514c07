package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/store"
)

// pageOf reads limit and marker (API reference §4): a missing limit is the
// page size, a larger one is clamped to the maximum, a non-integer or one
// below 1 is refused.
func (s *Server) pageOf(r *http.Request) (store.Page, error) {
	q := r.URL.Query()
	p := store.Page{Marker: q.Get("marker"), Limit: s.cfg.PageSize}
	if raw := q.Get("limit"); raw != "" || q.Has("limit") {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return p, fault.Errorf(fault.Invalid, "api.page", "Invalid limit '%s': it must be an integer of at least 1.", truncate(raw, 32))
		}
		p.Limit = min(n, s.cfg.MaxPageSize)
	}
	return p, nil
}

// nextLinks returns the "next" link: the request URL with marker set to
// the last id of the page and limit to the page's limit.
func nextLinks(r *http.Request, lastID string, limit int) []link {
	q := r.URL.Query()
	q.Set("marker", lastID)
	q.Set("limit", strconv.Itoa(limit))
	return []link{{Href: baseURL(r) + r.URL.EscapedPath() + "?" + q.Encode(), Rel: "next"}}
}

// instanceList is a page of instances. Links and InstancesLinks carry the
// same next link: troveclient reads "links", gophercloud "instances_links".
type instanceList struct {
	Instances      []instanceView `json:"instances"`
	Links          []link         `json:"links,omitempty"`
	InstancesLinks []link         `json:"instances_links,omitempty"`
}

func (s *Server) listInstancesView(w http.ResponseWriter, r *http.Request, detail bool) error {
	page, err := s.pageOf(r)
	if err != nil {
		return err
	}
	// Rackspace's include_replicas (default true).
	if q := r.URL.Query(); q.Has("include_replicas") {
		switch v := strings.ToLower(q.Get("include_replicas")); v {
		case "true", "1":
		case "false", "0":
			page.SkipReplicas = true
		default:
			return fault.Errorf(fault.Invalid, "api.instance.list", "Invalid include_replicas '%s': it must be true or false.", truncate(v, 16))
		}
	}
	tenant := r.PathValue("tenant")
	list := s.b.ListInstanceSummaries
	if detail {
		list = s.b.ListInstances
	}
	items, more, err := list(r.Context(), tenant, page)
	if err != nil {
		return err
	}
	admin := reqInfoFrom(r.Context()).isAdmin()
	lk := newLinker(r, tenant)
	if enc := newSummaryEncoder(lk); enc != nil && !detail {
		var next []link
		if more && len(items) > 0 {
			next = nextLinks(r, items[len(items)-1].ID, page.Limit)
		}
		enc.writeSummaryList(w, items, next)
		return nil
	}
	out := instanceList{Instances: make([]instanceView, 0, len(items))}
	for _, in := range items {
		if detail {
			out.Instances = append(out.Instances, lk.instanceDetailView(in, nil, admin))
		} else {
			out.Instances = append(out.Instances, lk.instanceView(in))
		}
	}
	if more && len(items) > 0 {
		out.Links = nextLinks(r, items[len(items)-1].ID, page.Limit)
		out.InstancesLinks = out.Links
	}
	writeInstanceList(w, &out)
	return nil
}

// listInstances serves GET /v1.0/{tenant}/instances (summary view).
func (s *Server) listInstances(w http.ResponseWriter, r *http.Request) error {
	return s.listInstancesView(w, r, false)
}

// listInstancesDetail serves GET /v1.0/{tenant}/instances/detail.
func (s *Server) listInstancesDetail(w http.ResponseWriter, r *http.Request) error {
	return s.listInstancesView(w, r, true)
}

// createInstance serves POST /v1.0/{tenant}/instances: 200 with the detail
// view (not 201/202: gophercloud accepts 200 only).
func (s *Server) createInstance(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := decodeCreate(body)
	if err != nil {
		return err
	}
	tenant := r.PathValue("tenant")
	d, err := s.b.CreateInstance(r.Context(), tenant, req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]instanceView{"instance": detailOf(r, tenant, d)})
}

// getInstance serves GET /v1.0/{tenant}/instances/{id}.
func (s *Server) getInstance(w http.ResponseWriter, r *http.Request) error {
	tenant := r.PathValue("tenant")
	d, err := s.b.GetInstance(r.Context(), tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]instanceView{"instance": detailOf(r, tenant, d)})
}

// updateInstance serves PUT and PATCH /v1.0/{tenant}/instances/{id}: a
// rename, or nothing for {"instance": {}}; 202 with an empty body.
func (s *Server) updateInstance(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	u, err := decodeUpdate(body)
	if err != nil {
		return err
	}
	tenant, id := r.PathValue("tenant"), r.PathValue("id")
	if u.Access {
		// Applied to the running instance before the request returns:
		// 202 means the filter is in force (service.SetInstanceAccess).
		// It goes first: it is the change that can be refused (422, 501,
		// 503), and a refused one must not leave a rename done.
		err = s.b.SetInstanceAccess(r.Context(), tenant, id, u.AllowedCIDRs)
	}
	if err == nil && u.Rename {
		err = s.b.RenameInstance(r.Context(), tenant, id, u.Name)
	}
	// The configuration change is inline; a replica's detach starts a task
	// (DETACH), after which the instance takes no other change: it goes last.
	if err == nil && (u.Detach || u.Configuration != "") {
		err = s.updateInstanceConfiguration(r, u)
	} else if err == nil && !u.Rename && !u.DetachReplica && !u.Access {
		_, err = s.b.GetInstance(r.Context(), tenant, id) // a no-op still needs the instance
	}
	if err == nil && u.DetachReplica {
		err = s.b.DetachReplica(r.Context(), tenant, id)
	}
	if err != nil {
		return err
	}
	writeEmpty(w, http.StatusAccepted)
	return nil
}

// deleteInstance serves DELETE /v1.0/{tenant}/instances/{id}: 202, empty.
func (s *Server) deleteInstance(w http.ResponseWriter, r *http.Request) error {
	if err := s.b.DeleteInstance(r.Context(), r.PathValue("tenant"), r.PathValue("id")); err != nil {
		return err
	}
	writeEmpty(w, http.StatusAccepted)
	return nil
}

// instanceAction serves POST /v1.0/{tenant}/instances/{id}/action: restart
// → 202 with an empty body; other Trove actions → 501.
func (s *Server) instanceAction(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	action, err := decodeAction(body)
	if err != nil {
		return err
	}
	tenant, id := r.PathValue("tenant"), r.PathValue("id")
	switch action {
	case actionRestart:
		err = s.b.RestartInstance(r.Context(), tenant, id)
	case actionResize:
		err = s.resizeInstance(r, body) // configurations.go
	case actionPromote:
		err = s.b.PromoteReplica(r.Context(), tenant, id)
	case actionEject:
		err = s.b.EjectReplicaSource(r.Context(), tenant, id)
	default:
		// Trove loads the instance first: an unknown one is 404 whatever
		// the action.
		if _, err := s.b.GetInstance(r.Context(), tenant, id); err != nil {
			return err
		}
		err = fault.Errorf(fault.NotImplemented, "api.instance.action", "The action '%s' is not implemented.", action)
	}
	if err != nil {
		return err
	}
	writeEmpty(w, http.StatusAccepted)
	return nil
}

// listReplicas serves GET /v1.0/{tenant}/instances/{id}/replicas
// (Rackspace): the replicas of a source, in the detail list view.
func (s *Server) listReplicas(w http.ResponseWriter, r *http.Request) error {
	tenant := r.PathValue("tenant")
	items, err := s.b.ListReplicas(r.Context(), tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	admin := reqInfoFrom(r.Context()).isAdmin()
	lk := newLinker(r, tenant)
	out := instanceList{Instances: make([]instanceView, 0, len(items))}
	for _, in := range items {
		out.Instances = append(out.Instances, lk.instanceDetailView(in, nil, admin))
	}
	writeInstanceList(w, &out)
	return nil
}
