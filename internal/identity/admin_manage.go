package identity

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// The Keystone v3 calls that change and remove projects, users and role
// assignments (`openstack project set/delete`, `user set/delete`, `user
// password set`, `role remove`, `role assignment list`). Bodies are
// checked strictly: an attribute hoard does not keep is refused with a
// 400, never accepted and dropped.

// object decodes a body {"<key>": {...}} and returns the inner object's
// attributes, refusing any not in allowed.
func object(op string, body io.Reader, key string, allowed ...string) (map[string]json.RawMessage, error) {
	var outer map[string]json.RawMessage
	if err := decodeBody(body, &outer); err != nil {
		return nil, err
	}
	raw, ok := outer[key]
	if !ok || isNull(raw) {
		return nil, fault.Errorf(fault.Invalid, op, "'%s' is a required property", key)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fault.Wrap(fault.Invalid, op, "'"+key+"' must be an object", err)
	}
	var unknown []string
	for k := range obj {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fault.Errorf(fault.Invalid, op, "Unsupported %s attribute(s): %s. hoard keeps only: %s.",
			key, quoteJoin(unknown), quoteJoin(allowed))
	}
	return obj, nil
}

// quoteJoin lists names for a message: quoted, each cut to 64 bytes, at
// most 8 of them (they may come from the request).
func quoteJoin(names []string) string {
	const maxNames, maxLen = 8, 64
	var q []string
	for i, n := range names {
		if i == maxNames {
			q = append(q, "...")
			break
		}
		if len(n) > maxLen {
			n = n[:maxLen] + "..."
		}
		q = append(q, "'"+strings.ToValidUTF8(n, "?")+"'")
	}
	return strings.Join(q, ", ")
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// field decodes attribute name of obj into a new T: nil if absent; a
// null is refused unless nullable (then it is T's zero value).
func field[T any](op string, obj map[string]json.RawMessage, name string, nullable bool) (*T, error) {
	raw, ok := obj[name]
	if !ok {
		return nil, nil
	}
	v := new(T)
	if isNull(raw) {
		if nullable {
			return v, nil
		}
		return nil, fault.Errorf(fault.Invalid, op, "'%s' must not be null", name)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, fault.Wrap(fault.Invalid, op, "Invalid type for '"+name+"'", err)
	}
	return v, nil
}

// checkEmptyExtras refuses a non-empty "options" object and a non-empty
// "tags" list: hoard keeps neither, but clients send them empty.
func checkEmptyExtras(op string, obj map[string]json.RawMessage) error {
	opts, err := field[map[string]any](op, obj, "options", true)
	if err != nil {
		return err
	}
	if opts != nil && len(*opts) > 0 {
		return fault.Errorf(fault.Invalid, op, "hoard supports no options: %s.", quoteJoin(slices.Sorted(maps.Keys(*opts))))
	}
	tags, err := field[[]string](op, obj, "tags", true)
	if err != nil {
		return err
	}
	if tags != nil && len(*tags) > 0 {
		return fault.New(fault.Invalid, op, "hoard keeps no project tags.")
	}
	return nil
}

// checkDomainField accepts a domain_id attribute only if it names the
// default domain.
func checkDomainField(op string, obj map[string]json.RawMessage) error {
	d, err := field[string](op, obj, "domain_id", true)
	if err != nil || d == nil {
		return err
	}
	if *d != model.DefaultDomainID {
		return fault.New(fault.Invalid, op, "hoard has only the default domain; a project or user cannot move to another.")
	}
	return nil
}

// projectCreate is a decoded POST /v3/projects body.
type projectCreate struct {
	Name, Description string
	Enabled           bool
}

// decodeProjectCreate decodes a POST /v3/projects body. A project in
// another domain is fault.NotFound (the domain is), a domain or a child
// project is refused.
func decodeProjectCreate(body io.Reader) (projectCreate, error) {
	const op = "identity.create_project"
	obj, err := object(op, body, "project", "name", "description", "enabled", "domain_id", "parent_id", "is_domain",
		"options", "tags")
	if err != nil {
		return projectCreate{}, err
	}
	if err := checkEmptyExtras(op, obj); err != nil {
		return projectCreate{}, err
	}
	in := projectCreate{Enabled: true}
	name, err := field[string](op, obj, "name", false)
	if err != nil {
		return projectCreate{}, err
	}
	if name == nil {
		return projectCreate{}, fault.New(fault.Invalid, op, "'name' is a required property")
	}
	in.Name = *name
	if d, err := field[string](op, obj, "description", true); err != nil {
		return projectCreate{}, err
	} else if d != nil {
		in.Description = *d
	}
	if e, err := field[bool](op, obj, "enabled", false); err != nil {
		return projectCreate{}, err
	} else if e != nil {
		in.Enabled = *e
	}
	if isDomain, err := field[bool](op, obj, "is_domain", true); err != nil {
		return projectCreate{}, err
	} else if isDomain != nil && *isDomain {
		return projectCreate{}, fault.New(fault.Invalid, op, "Creating domains is not supported.")
	}
	domain, err := field[string](op, obj, "domain_id", true)
	if err != nil {
		return projectCreate{}, err
	}
	if domain != nil {
		if err := checkDomainID(op, *domain); err != nil {
			return projectCreate{}, err
		}
	}
	// A top-level project's parent is its domain, as Keystone shows it.
	if parent, err := field[string](op, obj, "parent_id", true); err != nil {
		return projectCreate{}, err
	} else if parent != nil && *parent != "" && *parent != model.DefaultDomainID {
		return projectCreate{}, fault.New(fault.Invalid, op, "hoard has no project hierarchy: a project's parent can only be the default domain.")
	}
	return in, nil
}

// userCreate is a decoded POST /v3/users body.
type userCreate struct {
	Name, Password   string
	Enabled          bool
	DefaultProjectID string
}

// decodeUserCreate decodes a POST /v3/users body.
func decodeUserCreate(body io.Reader) (userCreate, error) {
	const op = "identity.create_user"
	obj, err := object(op, body, "user", "name", "password", "enabled", "domain_id", "default_project_id", "options")
	if err != nil {
		return userCreate{}, err
	}
	if err := checkEmptyExtras(op, obj); err != nil {
		return userCreate{}, err
	}
	in := userCreate{Enabled: true}
	for _, f := range []struct {
		name     string
		dst      *string
		required bool
	}{{"name", &in.Name, true}, {"password", &in.Password, true}, {"default_project_id", &in.DefaultProjectID, false}} {
		v, err := field[string](op, obj, f.name, !f.required)
		if err != nil {
			return userCreate{}, err
		}
		if v != nil {
			*f.dst = *v
		}
	}
	if in.Name == "" {
		return userCreate{}, fault.New(fault.Invalid, op, "'name' is a required property")
	}
	if in.Password == "" {
		return userCreate{}, fault.New(fault.Invalid, op, "'password' is required: hoard users authenticate with passwords.")
	}
	if e, err := field[bool](op, obj, "enabled", false); err != nil {
		return userCreate{}, err
	} else if e != nil {
		in.Enabled = *e
	}
	domain, err := field[string](op, obj, "domain_id", true)
	if err != nil {
		return userCreate{}, err
	}
	if domain != nil {
		if err := checkDomainID(op, *domain); err != nil {
			return userCreate{}, err
		}
	}
	return in, nil
}

// decodeProjectUpdate decodes a PATCH /v3/projects/{id} body.
func decodeProjectUpdate(body io.Reader) (ProjectUpdate, error) {
	const op = "identity.update_project"
	obj, err := object(op, body, "project", "name", "description", "enabled", "domain_id", "options", "tags")
	if err != nil {
		return ProjectUpdate{}, err
	}
	if err := checkDomainField(op, obj); err != nil {
		return ProjectUpdate{}, err
	}
	if err := checkEmptyExtras(op, obj); err != nil {
		return ProjectUpdate{}, err
	}
	var up ProjectUpdate
	if up.Name, err = field[string](op, obj, "name", false); err != nil {
		return ProjectUpdate{}, err
	}
	if up.Description, err = field[string](op, obj, "description", true); err != nil {
		return ProjectUpdate{}, err
	}
	if up.Enabled, err = field[bool](op, obj, "enabled", false); err != nil {
		return ProjectUpdate{}, err
	}
	return up, nil
}

// decodeUserUpdate decodes a PATCH /v3/users/{id} body.
func decodeUserUpdate(body io.Reader) (UserUpdate, error) {
	const op = "identity.update_user"
	obj, err := object(op, body, "user", "name", "password", "enabled", "domain_id", "options")
	if err != nil {
		return UserUpdate{}, err
	}
	if err := checkDomainField(op, obj); err != nil {
		return UserUpdate{}, err
	}
	if err := checkEmptyExtras(op, obj); err != nil {
		return UserUpdate{}, err
	}
	var up UserUpdate
	if up.Name, err = field[string](op, obj, "name", false); err != nil {
		return UserUpdate{}, err
	}
	if up.Enabled, err = field[bool](op, obj, "enabled", false); err != nil {
		return UserUpdate{}, err
	}
	if up.Password, err = field[string](op, obj, "password", false); err != nil {
		return UserUpdate{}, err
	}
	if up.Password != nil && *up.Password == "" {
		return UserUpdate{}, fault.New(fault.Invalid, op, "'password' must not be empty: hoard users authenticate with passwords.")
	}
	return up, nil
}

// passwordChange is a decoded POST /v3/users/{id}/password body.
type passwordChange struct {
	Original string
	Password string
}

// decodePasswordChange decodes a POST /v3/users/{id}/password body:
// {"user": {"password": new, "original_password": old}}.
func decodePasswordChange(body io.Reader) (passwordChange, error) {
	const op = "identity.change_password"
	obj, err := object(op, body, "user", "password", "original_password")
	if err != nil {
		return passwordChange{}, err
	}
	var pc passwordChange
	for _, f := range []struct {
		name string
		dst  *string
	}{{"original_password", &pc.Original}, {"password", &pc.Password}} {
		name, dst := f.name, f.dst
		v, err := field[string](op, obj, name, false)
		if err != nil {
			return passwordChange{}, err
		}
		if v == nil || *v == "" {
			return passwordChange{}, fault.Errorf(fault.Invalid, op, "'%s' is a required property", name)
		}
		*dst = *v
	}
	return pc, nil
}

// assignmentQuery is a decoded GET /v3/role_assignments query.
type assignmentQuery struct {
	Filter model.RoleAssignment
	Names  bool // include_names: names beside the ids
	// None is set by a filter no hoard assignment can match: groups,
	// domain or system scopes, inherited assignments.
	None bool
}

// queryTrue reads a Keystone boolean query parameter: present and not
// "0" or "false" (any case) is true.
func queryTrue(q url.Values, name string) bool {
	vs, ok := q[name]
	if !ok {
		return false
	}
	v := strings.ToLower(vs[0])
	return v != "0" && v != "false"
}

// parseAssignmentQuery reads the filters the OpenStack CLI sends for
// `openstack role assignment list` (keystoneclient's RoleAssignmentManager).
func parseAssignmentQuery(q url.Values) (assignmentQuery, error) {
	const op = "identity.role_assignments"
	var aq assignmentQuery
	aq.Filter = model.RoleAssignment{
		UserID: q.Get("user.id"), ProjectID: q.Get("scope.project.id"), Role: strings.ToLower(q.Get("role.id")),
	}
	aq.Names = queryTrue(q, "include_names")
	if q.Has("group.id") && q.Has("user.id") {
		return assignmentQuery{}, fault.New(fault.Invalid, op, "Specify at most one of user and group.")
	}
	if q.Has("scope.project.id") && (q.Has("scope.domain.id") || q.Has("scope.system")) {
		return assignmentQuery{}, fault.New(fault.Invalid, op, "Specify at most one of project, domain and system scopes.")
	}
	for _, k := range []string{"group.id", "scope.domain.id", "scope.system", "scope.OS-INHERIT:inherited_to"} {
		if q.Has(k) {
			aq.None = true
		}
	}
	for _, k := range []string{"user.id", "scope.project.id", "role.id"} {
		if q.Has(k) && q.Get(k) == "" {
			aq.None = true // an empty id matches nothing (rather than everything)
		}
	}
	return aq, nil
}

// JSON shapes of role assignments.
type (
	assignmentJSON struct {
		Role  assignmentRef   `json:"role"`
		User  assignmentRef   `json:"user"`
		Scope assignmentScope `json:"scope"`
		Links assignmentLinks `json:"links"`
	}
	assignmentRef struct {
		ID     string        `json:"id"`
		Name   string        `json:"name,omitempty"`
		Domain *v3DomainJSON `json:"domain,omitempty"`
	}
	assignmentScope struct {
		Project assignmentRef `json:"project"`
	}
	assignmentLinks struct {
		Assignment string `json:"assignment"`
	}
)

func (s *Service) handleRoleAssignments(w http.ResponseWriter, r *http.Request) error {
	const op = "identity.role_assignments"
	ss, err := s.requestSession(r)
	if err != nil {
		return err
	}
	aq, err := parseAssignmentQuery(r.URL.Query())
	if err != nil {
		return err
	}
	if !ss.principal().IsAdmin() && aq.Filter.UserID != ss.user.ID {
		return fault.New(fault.Forbidden, op, "You are not authorized to perform the requested action.")
	}
	as := []model.RoleAssignment{}
	if !aq.None {
		if as, err = s.RoleAssignments(r.Context(), aq.Filter); err != nil {
			return err
		}
	}
	var users map[string]string    // id → name
	var projects map[string]string // id → name
	if aq.Names && len(as) > 0 {
		us, err := s.ListUsers(r.Context())
		if err != nil {
			return err
		}
		ps, err := s.ListProjects(r.Context())
		if err != nil {
			return err
		}
		users, projects = map[string]string{}, map[string]string{}
		for _, u := range us {
			users[u.ID] = u.Name
		}
		for _, p := range ps {
			projects[p.ID] = p.Name
		}
	}
	out := make([]assignmentJSON, 0, len(as))
	for _, a := range as {
		j := assignmentJSON{
			Role:  assignmentRef{ID: a.Role},
			User:  assignmentRef{ID: a.UserID},
			Scope: assignmentScope{Project: assignmentRef{ID: a.ProjectID}},
			Links: assignmentLinks{Assignment: s.v3URL(r, "projects/"+a.ProjectID+"/users/"+a.UserID+"/roles/"+a.Role)},
		}
		if aq.Names {
			d := defaultDomain
			j.Role.Name = a.Role
			j.User.Name, j.User.Domain = users[a.UserID], &d
			j.Scope.Project.Name, j.Scope.Project.Domain = projects[a.ProjectID], &d
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"role_assignments": out, "links": s.listLinks(r, "role_assignments")})
	return nil
}

func (s *Service) handleUpdateProject(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireAdmin(r); err != nil {
		return err
	}
	up, err := decodeProjectUpdate(r.Body)
	if err != nil {
		return err
	}
	p, err := s.UpdateProject(r.Context(), r.PathValue("id"), up)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"project": s.projectJSON(r, p)})
	return nil
}

func (s *Service) handleDeleteProject(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireAdmin(r); err != nil {
		return err
	}
	if err := s.DeleteProject(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) handleUpdateUser(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireAdmin(r); err != nil {
		return err
	}
	up, err := decodeUserUpdate(r.Body)
	if err != nil {
		return err
	}
	u, err := s.UpdateUser(r.Context(), r.PathValue("id"), up)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": s.userJSON(r, u)})
	return nil
}

func (s *Service) handleDeleteUser(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireAdmin(r); err != nil {
		return err
	}
	if err := s.DeleteUser(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleChangePassword serves POST /v3/users/{id}/password. As in Keystone
// it needs no token: the original password is the proof (a user whose
// password must change may hold no token).
func (s *Service) handleChangePassword(w http.ResponseWriter, r *http.Request) error {
	pc, err := decodePasswordChange(r.Body)
	if err != nil {
		return err
	}
	if err := s.ChangePassword(r.Context(), r.PathValue("id"), pc.Original, pc.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) handleRevokeRole(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireAdmin(r); err != nil {
		return err
	}
	a, err := s.assignment(r)
	if err != nil {
		return err
	}
	if err := s.RevokeRole(r.Context(), a.UserID, a.ProjectID, a.Role); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
