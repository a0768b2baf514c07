package api

import (
	"net/http"

	"github.com/hoard-db/hoard/internal/fault"
)

// versionDoc describes API v1.0 (Rackspace's "updated" date).
type versionDoc struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Updated string `json:"updated"`
	Links   []link `json:"links"`
}

func newVersionDoc(r *http.Request) versionDoc {
	return versionDoc{ID: "v1.0", Status: "CURRENT", Updated: "2012-01-01T00:00:00Z",
		Links: []link{{Href: baseURL(r) + "/v1.0/", Rel: "self"}}}
}

// versions serves GET /: the version list, no authentication.
func (s *Server) versions(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string][]versionDoc{"versions": {newVersionDoc(r)}})
}

// version serves GET /v1.0 and /v1.0/: the version document, token optional.
func (s *Server) version(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]versionDoc{"version": newVersionDoc(r)})
}

// healthcheck serves GET /healthcheck: 200 "OK" when the backend is ready,
// else 503 serviceUnavailable (draining is answered by the middleware).
func (s *Server) healthcheck(w http.ResponseWriter, r *http.Request) error {
	if err := s.b.Ready(r.Context()); err != nil {
		return fault.Wrap(fault.Unavailable, "api.healthcheck", "The service is not ready.", err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
	return nil
}
