package api

import (
	"net/http"
	"strings"
)

// routeLabel is the metrics label of a request served by pattern: the
// path pattern without the method (the method is a label of its own), the
// catch-all patterns ({a}/{b}) named after the route they served, and the
// identity service's routes by its own patterns. Its values are bounded by
// the route table: a path no route serves is "unmatched".
func (s *Server) routeLabel(pattern string, r *http.Request) string {
	if _, path, ok := strings.Cut(pattern, " "); ok {
		pattern = path
	}
	const ds = "/v1.0/{tenant}/datastores/"
	switch pattern {
	case ds + "{a}/{b}":
		// Path values are not set yet: the mux has only matched r.
		if strings.Contains(r.URL.Path, "/datastores/versions/") {
			return ds + "versions/{id}"
		}
		return ds + "{ds}/versions"
	case ds + "{a}/{b}/{c}":
		return ds + "versions/{id}/parameters"
	case ds + "{a}/{b}/{c}/{d}":
		return ds + "versions/{id}/parameters/{name}"
	case "/identity/":
		return identityLabel(s.cfg.Identity, r)
	}
	return pattern
}

// identityLabel is the pattern of the identity service's route that serves
// r, when its handler is a ServeMux (identity.Service.Handler).
func identityLabel(h http.Handler, r *http.Request) string {
	mux, ok := h.(interface {
		Handler(*http.Request) (http.Handler, string)
	})
	if !ok {
		return "/identity/"
	}
	_, pattern := mux.Handler(r)
	if _, path, ok := strings.Cut(pattern, " "); ok {
		pattern = path
	}
	if pattern == "" || pattern == "/" {
		return "unmatched"
	}
	return pattern
}
