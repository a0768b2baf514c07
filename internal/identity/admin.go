package identity

import (
	"net/http"
	"slices"
	"strings"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// The Keystone v3 admin API subset that `openstack project create`,
// `user create` and `role add` use. Writes need a token with the admin role.

type (
	listLinks struct {
		Self     string  `json:"self"`
		Previous *string `json:"previous"`
		Next     *string `json:"next"`
	}
	selfLink struct {
		Self string `json:"self"`
	}
	projectJSON struct {
		ID          string         `json:"id"`
		Name        string         `json:"name"`
		Description string         `json:"description"`
		Enabled     bool           `json:"enabled"`
		DomainID    string         `json:"domain_id"`
		ParentID    string         `json:"parent_id"`
		IsDomain    bool           `json:"is_domain"`
		Tags        []string       `json:"tags"`
		Options     map[string]any `json:"options"`
		Links       selfLink       `json:"links"`
	}
	userJSON struct {
		ID                string         `json:"id"`
		Name              string         `json:"name"`
		Enabled           bool           `json:"enabled"`
		DomainID          string         `json:"domain_id"`
		DefaultProjectID  string         `json:"default_project_id,omitempty"`
		PasswordExpiresAt *string        `json:"password_expires_at"`
		Options           map[string]any `json:"options"`
		Links             selfLink       `json:"links"`
	}
	roleJSON struct {
		ID          string   `json:"id"`
		Name        string   `json:"name"`
		DomainID    *string  `json:"domain_id"`
		Description string   `json:"description"`
		Links       selfLink `json:"links"`
	}
	domainJSON struct {
		ID          string   `json:"id"`
		Name        string   `json:"name"`
		Description string   `json:"description"`
		Enabled     bool     `json:"enabled"`
		Links       selfLink `json:"links"`
	}
)

func (s *Service) v3URL(r *http.Request, path string) string {
	return s.baseURL(r) + Prefix + "/v3/" + path
}

func (s *Service) listLinks(r *http.Request, path string) listLinks {
	u := s.v3URL(r, path)
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return listLinks{Self: u}
}

func (s *Service) projectJSON(r *http.Request, p *model.Project) projectJSON {
	return projectJSON{
		ID: p.ID, Name: p.Name, Description: p.Description, Enabled: p.Enabled,
		DomainID: model.DefaultDomainID, ParentID: model.DefaultDomainID,
		Tags: []string{}, Options: map[string]any{},
		Links: selfLink{Self: s.v3URL(r, "projects/"+p.ID)},
	}
}

func (s *Service) userJSON(r *http.Request, u *model.User) userJSON {
	return userJSON{
		ID: u.ID, Name: u.Name, Enabled: u.Enabled, DomainID: model.DefaultDomainID,
		Options: map[string]any{}, Links: selfLink{Self: s.v3URL(r, "users/"+u.ID)},
	}
}

func (s *Service) roleJSON(r *http.Request, role string) roleJSON {
	return roleJSON{ID: role, Name: role, Links: selfLink{Self: s.v3URL(r, "roles/"+role)}}
}

func (s *Service) domainJSON(r *http.Request) domainJSON {
	return domainJSON{
		ID: model.DefaultDomainID, Name: model.DefaultDomainName, Description: "The default domain",
		Enabled: true, Links: selfLink{Self: s.v3URL(r, "domains/"+model.DefaultDomainID)},
	}
}

func (s *Service) projectList(r *http.Request, ps []model.Project, path string) map[string]any {
	name := r.URL.Query().Get("name")
	out := make([]projectJSON, 0, len(ps))
	for i := range ps {
		if name == "" || ps[i].Name == name {
			out = append(out, s.projectJSON(r, &ps[i]))
		}
	}
	return map[string]any{"projects": out, "links": s.listLinks(r, path)}
}

func checkDomainID(op, id string) error {
	if id != "" && id != model.DefaultDomainID {
		return fault.Errorf(fault.NotFound, op, "Could not find domain: %s.", id)
	}
	return nil
}

func (s *Service) handleListProjects(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireAdmin(r); err != nil {
		return err
	}
	ps, err := s.ListProjects(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.projectList(r, ps, "projects"))
	return nil
}

func (s *Service) handleCreateProject(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireAdmin(r); err != nil {
		return err
	}
	in, err := decodeProjectCreate(r.Body)
	if err != nil {
		return err
	}
	p, err := s.createProject(r.Context(), in.Name, in.Description, in.Enabled)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"project": s.projectJSON(r, p)})
	return nil
}

func (s *Service) handleGetProject(w http.ResponseWriter, r *http.Request) error {
	const op = "identity.get_project"
	ss, err := s.requestSession(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	own := ss.project != nil && ss.project.ID == id
	if !own && !ss.principal().IsAdmin() {
		return fault.New(fault.Forbidden, op, "You are not authorized to perform the requested action.")
	}
	p, err := s.st.GetProject(r.Context(), id)
	if err != nil {
		return storeErr(op, "Could not find project: "+id+".", err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"project": s.projectJSON(r, p)})
	return nil
}

func (s *Service) handleListUsers(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireAdmin(r); err != nil {
		return err
	}
	us, err := s.ListUsers(r.Context())
	if err != nil {
		return err
	}
	name := r.URL.Query().Get("name")
	out := make([]userJSON, 0, len(us))
	for i := range us {
		if name == "" || us[i].Name == name {
			out = append(out, s.userJSON(r, &us[i]))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out, "links": s.listLinks(r, "users")})
	return nil
}

func (s *Service) handleCreateUser(w http.ResponseWriter, r *http.Request) error {
	const op = "identity.create_user"
	if _, err := s.requireAdmin(r); err != nil {
		return err
	}
	in, err := decodeUserCreate(r.Body)
	if err != nil {
		return err
	}
	if in.DefaultProjectID != "" {
		if _, err := s.st.GetProject(r.Context(), in.DefaultProjectID); err != nil {
			return storeErr(op, "Could not find project: "+in.DefaultProjectID+".", err)
		}
	}
	u, err := s.createUser(r.Context(), in.Name, in.Password, in.Enabled)
	if err != nil {
		return err
	}
	out := s.userJSON(r, u)
	// Not stored: hoard scopes unscoped logins by role assignments instead.
	out.DefaultProjectID = in.DefaultProjectID
	writeJSON(w, http.StatusCreated, map[string]any{"user": out})
	return nil
}

func (s *Service) handleGetUser(w http.ResponseWriter, r *http.Request) error {
	const op = "identity.get_user"
	ss, err := s.requestSession(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if id != ss.user.ID && !ss.principal().IsAdmin() {
		return fault.New(fault.Forbidden, op, "You are not authorized to perform the requested action.")
	}
	u, err := s.st.GetUser(r.Context(), id)
	if err != nil {
		return storeErr(op, "Could not find user: "+id+".", err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": s.userJSON(r, u)})
	return nil
}

func (s *Service) handleUserProjects(w http.ResponseWriter, r *http.Request) error {
	const op = "identity.user_projects"
	ss, err := s.requestSession(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if id != ss.user.ID && !ss.principal().IsAdmin() {
		return fault.New(fault.Forbidden, op, "You are not authorized to perform the requested action.")
	}
	if id != ss.user.ID {
		if _, err := s.st.GetUser(r.Context(), id); err != nil {
			return storeErr(op, "Could not find user: "+id+".", err)
		}
	}
	ps, err := s.ProjectsOf(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.projectList(r, ps, "users/"+id+"/projects"))
	return nil
}

func (s *Service) handleAuthProjects(w http.ResponseWriter, r *http.Request) error {
	ss, err := s.requestSession(r)
	if err != nil {
		return err
	}
	ps, err := s.ProjectsOf(r.Context(), ss.user.ID)
	if err != nil {
		return err
	}
	ps = slices.DeleteFunc(ps, func(p model.Project) bool { return !p.Enabled })
	writeJSON(w, http.StatusOK, s.projectList(r, ps, "auth/projects"))
	return nil
}

// assignment resolves the project, user and role of a role assignment path.
func (s *Service) assignment(r *http.Request) (model.RoleAssignment, error) {
	const op = "identity.role_assignment"
	role := strings.ToLower(r.PathValue("role"))
	if !knownRole(role) {
		return model.RoleAssignment{}, fault.Errorf(fault.NotFound, op, "Could not find role: %s.", r.PathValue("role"))
	}
	p, err := s.FindProject(r.Context(), r.PathValue("project"))
	if err != nil {
		return model.RoleAssignment{}, err
	}
	u, err := s.FindUser(r.Context(), r.PathValue("user"))
	if err != nil {
		return model.RoleAssignment{}, err
	}
	return model.RoleAssignment{UserID: u.ID, ProjectID: p.ID, Role: role}, nil
}

func (s *Service) handleGrantRole(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requireAdmin(r); err != nil {
		return err
	}
	a, err := s.assignment(r)
	if err != nil {
		return err
	}
	if err := s.GrantRole(r.Context(), a.UserID, a.ProjectID, a.Role); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) handleCheckRole(w http.ResponseWriter, r *http.Request) error {
	const op = "identity.check_role"
	if _, err := s.requireAdmin(r); err != nil {
		return err
	}
	a, err := s.assignment(r)
	if err != nil {
		return err
	}
	roles, err := s.st.Roles(r.Context(), a.UserID, a.ProjectID)
	if err != nil {
		return err
	}
	if !slices.Contains(roles, a.Role) {
		return fault.New(fault.NotFound, op, "Could not find role assignment.")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) handleListRoles(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requestSession(r); err != nil {
		return err
	}
	name := r.URL.Query().Get("name")
	out := []roleJSON{}
	for _, role := range Roles() {
		if name == "" || name == role {
			out = append(out, s.roleJSON(r, role))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"roles": out, "links": s.listLinks(r, "roles")})
	return nil
}

func (s *Service) handleGetRole(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requestSession(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	if !knownRole(id) {
		return fault.Errorf(fault.NotFound, "identity.get_role", "Could not find role: %s.", id)
	}
	writeJSON(w, http.StatusOK, map[string]any{"role": s.roleJSON(r, id)})
	return nil
}

func (s *Service) handleListDomains(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requestSession(r); err != nil {
		return err
	}
	out := []domainJSON{}
	if name := r.URL.Query().Get("name"); name == "" || name == model.DefaultDomainName {
		out = append(out, s.domainJSON(r))
	}
	writeJSON(w, http.StatusOK, map[string]any{"domains": out, "links": s.listLinks(r, "domains")})
	return nil
}

func (s *Service) handleGetDomain(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.requestSession(r); err != nil {
		return err
	}
	if id := r.PathValue("id"); id != model.DefaultDomainID {
		return fault.Errorf(fault.NotFound, "identity.get_domain", "Could not find domain: %s.", id)
	}
	writeJSON(w, http.StatusOK, map[string]any{"domain": s.domainJSON(r)})
	return nil
}
