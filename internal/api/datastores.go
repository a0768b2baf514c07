package api

import (
	"net/http"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// visible reports whether a datastore is shown: admins see every one, other
// callers only those with an active version.
func visible(ds *model.Datastore, admin bool) bool {
	if admin {
		return true
	}
	for _, v := range ds.Versions {
		if v.Active {
			return true
		}
	}
	return false
}

// findDatastore looks a datastore up by id, then by name (case-sensitive).
func (s *Server) findDatastore(r *http.Request, idOrName string) (*model.Datastore, error) {
	all, err := s.b.ListDatastores(r.Context())
	if err != nil {
		return nil, err
	}
	admin := reqInfoFrom(r.Context()).isAdmin()
	for _, match := range []func(*model.Datastore) bool{
		func(ds *model.Datastore) bool { return ds.ID == idOrName },
		func(ds *model.Datastore) bool { return ds.Name == idOrName },
	} {
		for i := range all {
			if ds := &all[i]; match(ds) && visible(ds, admin) {
				return ds, nil
			}
		}
	}
	return nil, fault.Errorf(fault.NotFound, "api.datastore.get", "Datastore '%s' cannot be found.", truncate(idOrName, 64))
}

// findVersion looks a version of ds up by id, then by name.
func findVersion(r *http.Request, ds *model.Datastore, idOrName string) (*model.DatastoreVersion, error) {
	admin := reqInfoFrom(r.Context()).isAdmin()
	for _, byID := range []bool{true, false} {
		for i := range ds.Versions {
			v := &ds.Versions[i]
			key := v.Name
			if byID {
				key = v.ID
			}
			if key == idOrName && (v.Active || admin) {
				return v, nil
			}
		}
	}
	return nil, versionNotFound(idOrName)
}

func versionNotFound(idOrName string) error {
	return fault.Errorf(fault.NotFound, "api.datastore.version", "Datastore version '%s' cannot be found.", truncate(idOrName, 64))
}

// listDatastores serves GET /v1.0/{tenant}/datastores.
func (s *Server) listDatastores(w http.ResponseWriter, r *http.Request) error {
	all, err := s.b.ListDatastores(r.Context())
	if err != nil {
		return err
	}
	tenant, admin := r.PathValue("tenant"), reqInfoFrom(r.Context()).isAdmin()
	views := make([]datastoreView, 0, len(all))
	for i := range all {
		if ds := &all[i]; visible(ds, admin) {
			views = append(views, newDatastoreView(r, tenant, ds, admin))
		}
	}
	return writeJSON(w, http.StatusOK, map[string][]datastoreView{"datastores": views})
}

// getDatastore serves GET /v1.0/{tenant}/datastores/{ds}.
func (s *Server) getDatastore(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.findDatastore(r, r.PathValue("ds"))
	if err != nil {
		return err
	}
	v := newDatastoreView(r, r.PathValue("tenant"), ds, reqInfoFrom(r.Context()).isAdmin())
	return writeJSON(w, http.StatusOK, map[string]datastoreView{"datastore": v})
}

// listVersionsOrGetVersionByID serves the versions of a datastore, GET
// /v1.0/{tenant}/datastores/{ds}/versions, and one version by its id, GET
// /v1.0/{tenant}/datastores/versions/{id}: one pattern for both (see
// Server.routes).
func (s *Server) listVersionsOrGetVersionByID(w http.ResponseWriter, r *http.Request) error {
	a, b := r.PathValue("a"), r.PathValue("b")
	switch {
	case b == "versions":
		return s.listDatastoreVersions(w, r, a)
	case a == "versions":
		return s.getVersionByID(w, r, b)
	}
	return fault.New(fault.NotFound, "api.route", "The resource could not be found.")
}

func (s *Server) listDatastoreVersions(w http.ResponseWriter, r *http.Request, idOrName string) error {
	ds, err := s.findDatastore(r, idOrName)
	if err != nil {
		return err
	}
	tenant, admin := r.PathValue("tenant"), reqInfoFrom(r.Context()).isAdmin()
	views := make([]versionView, 0, len(ds.Versions))
	for i := range ds.Versions {
		if v := &ds.Versions[i]; v.Active || admin {
			views = append(views, newVersionView(r, tenant, v, true, admin))
		}
	}
	return writeJSON(w, http.StatusOK, map[string][]versionView{"versions": views})
}

func (s *Server) getVersionByID(w http.ResponseWriter, r *http.Request, id string) error {
	all, err := s.b.ListDatastores(r.Context())
	if err != nil {
		return err
	}
	admin := reqInfoFrom(r.Context()).isAdmin()
	for i := range all {
		for j := range all[i].Versions {
			if v := &all[i].Versions[j]; v.ID == id && (v.Active || admin) {
				vv := newVersionView(r, r.PathValue("tenant"), v, true, admin)
				return writeJSON(w, http.StatusOK, map[string]versionView{"version": vv})
			}
		}
	}
	return versionNotFound(id)
}

// getDatastoreVersion serves GET /v1.0/{tenant}/datastores/{ds}/versions/{v}.
func (s *Server) getDatastoreVersion(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.findDatastore(r, r.PathValue("ds"))
	if err != nil {
		return err
	}
	v, err := findVersion(r, ds, r.PathValue("v"))
	if err != nil {
		return err
	}
	vv := newVersionView(r, r.PathValue("tenant"), v, true, reqInfoFrom(r.Context()).isAdmin())
	return writeJSON(w, http.StatusOK, map[string]versionView{"version": vv})
}

// listVersionFlavors serves GET /v1.0/{tenant}/datastores/{ds}/versions/{v}/flavors:
// every flavor (versions are not bound to flavor subsets).
func (s *Server) listVersionFlavors(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.findDatastore(r, r.PathValue("ds"))
	if err != nil {
		return err
	}
	if _, err := findVersion(r, ds, r.PathValue("v")); err != nil {
		return err
	}
	return s.listFlavors(w, r)
}
