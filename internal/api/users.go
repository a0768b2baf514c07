package api

import (
	"net/http"
	"net/url"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/service"
	"github.com/hoard-db/hoard/internal/store"
)

// databasePageSize is the default page size of database lists
// (Rackspace's; Trove uses 20).
const databasePageSize = 100

// nameView is {"name": ...}, the element of database lists.
type nameView struct {
	Name string `json:"name"`
}

// userView is a user without its password.
type userView struct {
	Name      string     `json:"name"`
	Host      string     `json:"host"`
	Databases []nameView `json:"databases"`
}

func newUserView(u datastore.UserInfo) userView {
	v := userView{Name: u.Name, Host: u.Host, Databases: namesView(u.Databases)}
	return v
}

func namesView(names []string) []nameView {
	out := make([]nameView, 0, len(names))
	for _, n := range names {
		out = append(out, nameView{Name: n})
	}
	return out
}

// databaseList is a page of databases: "links" for troveclient,
// "databases_links" for gophercloud.
type databaseList struct {
	Databases      []nameView `json:"databases"`
	Links          []link     `json:"links,omitempty"`
	DatabasesLinks []link     `json:"databases_links,omitempty"`
}

// userList is a page of users: "links" for troveclient, "users_links"
// for gophercloud.
type userList struct {
	Users      []userView `json:"users"`
	Links      []link     `json:"links,omitempty"`
	UsersLinks []link     `json:"users_links,omitempty"`
}

// userOf returns the user addressed by the {name} segment (reference
// §12.2): decoded once by routing, once more here (leniently), then split
// on the last '@'.
func userOf(r *http.Request) (name, host string) {
	return service.SplitUserHost(unescapeLenient(r.PathValue("name")))
}

// pageWithDefault is pageOf with another default page size.
func (s *Server) pageWithDefault(r *http.Request, def int) (store.Page, error) {
	p, err := s.pageOf(r)
	if err == nil && !r.URL.Query().Has("limit") {
		p.Limit = min(def, s.cfg.MaxPageSize)
	}
	return p, err
}

// enableRoot serves POST .../root: 200 {"user": {"name", "password"}};
// the only response that ever carries a password.
func (s *Server) enableRoot(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	pw, err := decodeRootEnable(body)
	if err != nil {
		return err
	}
	user, pw, err := s.b.EnableRoot(r.Context(), r.PathValue("tenant"), r.PathValue("id"), pw)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, map[string]map[string]string{"user": {"name": user, "password": string(pw)}})
}

// rootStatus serves GET .../root: 200 {"rootEnabled": bool}.
func (s *Server) rootStatus(w http.ResponseWriter, r *http.Request) error {
	on, err := s.b.RootEnabled(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]bool{"rootEnabled": on})
}

// disableRoot serves DELETE .../root: 204.
func (s *Server) disableRoot(w http.ResponseWriter, r *http.Request) error {
	if err := s.b.DisableRoot(r.Context(), r.PathValue("tenant"), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// createDatabases serves POST .../databases: 202, empty.
func (s *Server) createDatabases(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	dbs, err := decodeDatabaseCreate(body)
	if err != nil {
		return err
	}
	if err := s.b.CreateDatabases(r.Context(), r.PathValue("tenant"), r.PathValue("id"), dbs); err != nil {
		return err
	}
	writeEmpty(w, http.StatusAccepted)
	return nil
}

// listDatabases serves GET .../databases: 200, paged by name.
func (s *Server) listDatabases(w http.ResponseWriter, r *http.Request) error {
	page, err := s.pageWithDefault(r, databasePageSize)
	if err != nil {
		return err
	}
	dbs, more, err := s.b.ListDatabases(r.Context(), r.PathValue("tenant"), r.PathValue("id"), page)
	if err != nil {
		return err
	}
	out := databaseList{Databases: make([]nameView, 0, len(dbs))}
	for _, d := range dbs {
		out.Databases = append(out.Databases, nameView{Name: d.Name})
	}
	if more && len(dbs) > 0 {
		out.Links = nextLinks(r, dbs[len(dbs)-1].Name, page.Limit)
		out.DatabasesLinks = out.Links
	}
	return writeJSON(w, http.StatusOK, out)
}

// getDatabase serves GET .../databases/{name}: 501, as in Trove, once the
// instance is known to exist.
func (s *Server) getDatabase(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.b.GetInstance(r.Context(), r.PathValue("tenant"), r.PathValue("id")); err != nil {
		return err
	}
	return fault.New(fault.NotImplemented, "api.database.get", "Showing a single database is not implemented.")
}

// deleteDatabase serves DELETE .../databases/{name}: 202, empty.
func (s *Server) deleteDatabase(w http.ResponseWriter, r *http.Request) error {
	if err := s.b.DeleteDatabase(r.Context(), r.PathValue("tenant"), r.PathValue("id"), r.PathValue("name")); err != nil {
		return err
	}
	writeEmpty(w, http.StatusAccepted)
	return nil
}

// createUsers serves POST .../users: 202, empty.
func (s *Server) createUsers(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	users, err := decodeUserCreate(body)
	if err != nil {
		return err
	}
	if err := s.b.CreateUsers(r.Context(), r.PathValue("tenant"), r.PathValue("id"), users); err != nil {
		return err
	}
	writeEmpty(w, http.StatusAccepted)
	return nil
}

// listUsers serves GET .../users: 200, paged by name@host. The marker in
// the next link is URL-quoted before query encoding, as Trove does
// (reference §4), and read back leniently.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	page, err := s.pageOf(r)
	if err != nil {
		return err
	}
	page.Marker = unescapeLenient(page.Marker)
	users, more, err := s.b.ListUsers(r.Context(), r.PathValue("tenant"), r.PathValue("id"), page)
	if err != nil {
		return err
	}
	out := userList{Users: make([]userView, 0, len(users))}
	for _, u := range users {
		out.Users = append(out.Users, newUserView(u))
	}
	if more && len(users) > 0 {
		last := users[len(users)-1]
		out.Links = nextLinks(r, url.QueryEscape(last.Name+"@"+last.Host), page.Limit)
		out.UsersLinks = out.Links
	}
	return writeJSON(w, http.StatusOK, out)
}

// updatePasswords serves PUT .../users: 202, empty.
func (s *Server) updatePasswords(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	users, err := decodePasswords(body)
	if err != nil {
		return err
	}
	if err := s.b.UpdatePasswords(r.Context(), r.PathValue("tenant"), r.PathValue("id"), users); err != nil {
		return err
	}
	writeEmpty(w, http.StatusAccepted)
	return nil
}

// getUser serves GET .../users/{name}: 200 {"user": {...}}.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	name, host := userOf(r)
	u, err := s.b.GetUser(r.Context(), r.PathValue("tenant"), r.PathValue("id"), name, host)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]userView{"user": newUserView(*u)})
}

// updateUser serves PUT .../users/{name}: 202, empty.
func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	ch, err := decodeUserUpdate(body)
	if err != nil {
		return err
	}
	name, host := userOf(r)
	if err := s.b.UpdateUser(r.Context(), r.PathValue("tenant"), r.PathValue("id"), name, host, ch); err != nil {
		return err
	}
	writeEmpty(w, http.StatusAccepted)
	return nil
}

// deleteUser serves DELETE .../users/{name}: 202, empty.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	name, host := userOf(r)
	if err := s.b.DeleteUser(r.Context(), r.PathValue("tenant"), r.PathValue("id"), name, host); err != nil {
		return err
	}
	writeEmpty(w, http.StatusAccepted)
	return nil
}

// listAccess serves GET .../users/{name}/databases: 200.
func (s *Server) listAccess(w http.ResponseWriter, r *http.Request) error {
	name, host := userOf(r)
	u, err := s.b.GetUser(r.Context(), r.PathValue("tenant"), r.PathValue("id"), name, host)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string][]nameView{"databases": namesView(u.Databases)})
}

// grantAccess serves PUT .../users/{name}/databases: 202, empty.
func (s *Server) grantAccess(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	dbs, err := decodeGrant(body)
	if err != nil {
		return err
	}
	name, host := userOf(r)
	if err := s.b.GrantAccess(r.Context(), r.PathValue("tenant"), r.PathValue("id"), name, host, dbs); err != nil {
		return err
	}
	writeEmpty(w, http.StatusAccepted)
	return nil
}

// revokeAccess serves DELETE .../users/{name}/databases/{db}: 202, empty.
func (s *Server) revokeAccess(w http.ResponseWriter, r *http.Request) error {
	name, host := userOf(r)
	if err := s.b.RevokeAccess(r.Context(), r.PathValue("tenant"), r.PathValue("id"), name, host, r.PathValue("db")); err != nil {
		return err
	}
	writeEmpty(w, http.StatusAccepted)
	return nil
}
