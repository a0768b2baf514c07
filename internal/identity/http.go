package identity

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/hoard-db/hoard/internal/fault"
)

// Prefix is the path under which [Service.Handler] serves.
const Prefix = "/identity"

const maxBodyBytes = 64 << 10

// handlerFunc is an HTTP handler that returns its error; serve writes it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handler returns the HTTP handler for every path under "/identity/"; mount
// it with mux.Handle("/identity/", h). Errors are Keystone-style
// {"error":{"code","title","message"}} bodies.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(Prefix+rt.path, s.methods(rt.methods))
	}
	mux.Handle("/", s.methods(nil)) // everything else: 404
	return mux
}

// routeSpec is one path of the identity service and its handlers by method.
type routeSpec struct {
	path    string // a ServeMux pattern without Prefix
	methods map[string]handlerFunc
}

// routes is the identity service's route table: Handler serves it and the
// tests walk it, so that no route escapes them.
func (s *Service) routes() []routeSpec {
	var rts []routeSpec
	route := func(path string, methods map[string]handlerFunc) {
		rts = append(rts, routeSpec{path, methods})
	}
	versions := map[string]handlerFunc{http.MethodGet: s.handleVersions}
	route("/{$}", versions)
	v3 := map[string]handlerFunc{http.MethodGet: s.handleV3Version}
	route("/v3", v3)
	route("/v3/{$}", v3)
	v2 := map[string]handlerFunc{http.MethodGet: s.handleV2Version}
	route("/v2.0", v2)
	route("/v2.0/{$}", v2)

	route("/v3/auth/tokens", map[string]handlerFunc{
		http.MethodPost:   s.handleV3Issue,
		http.MethodGet:    s.handleV3Validate,
		http.MethodHead:   s.handleV3Check,
		http.MethodDelete: s.handleV3Revoke,
	})
	route("/v3/auth/projects", map[string]handlerFunc{http.MethodGet: s.handleAuthProjects})
	route("/v3/projects", map[string]handlerFunc{
		http.MethodGet:  s.handleListProjects,
		http.MethodPost: s.handleCreateProject,
	})
	route("/v3/projects/{id}", map[string]handlerFunc{
		http.MethodGet:    s.handleGetProject,
		http.MethodPatch:  s.handleUpdateProject,
		http.MethodDelete: s.handleDeleteProject,
	})
	route("/v3/projects/{project}/users/{user}/roles/{role}", map[string]handlerFunc{
		http.MethodPut:    s.handleGrantRole,
		http.MethodHead:   s.handleCheckRole,
		http.MethodGet:    s.handleCheckRole,
		http.MethodDelete: s.handleRevokeRole,
	})
	route("/v3/role_assignments", map[string]handlerFunc{http.MethodGet: s.handleRoleAssignments})
	route("/v3/users", map[string]handlerFunc{
		http.MethodGet:  s.handleListUsers,
		http.MethodPost: s.handleCreateUser,
	})
	route("/v3/users/{id}", map[string]handlerFunc{
		http.MethodGet:    s.handleGetUser,
		http.MethodPatch:  s.handleUpdateUser,
		http.MethodDelete: s.handleDeleteUser,
	})
	route("/v3/users/{id}/password", map[string]handlerFunc{http.MethodPost: s.handleChangePassword})
	route("/v3/users/{id}/projects", map[string]handlerFunc{http.MethodGet: s.handleUserProjects})
	route("/v3/roles", map[string]handlerFunc{http.MethodGet: s.handleListRoles})
	route("/v3/roles/{id}", map[string]handlerFunc{http.MethodGet: s.handleGetRole})
	route("/v3/domains", map[string]handlerFunc{http.MethodGet: s.handleListDomains})
	route("/v3/domains/{id}", map[string]handlerFunc{http.MethodGet: s.handleGetDomain})

	route("/v2.0/tokens", map[string]handlerFunc{http.MethodPost: s.handleV2Issue})
	route("/v2.0/tenants", map[string]handlerFunc{http.MethodGet: s.handleV2Tenants})

	v1 := map[string]handlerFunc{http.MethodGet: s.handleV1Auth}
	route("/v1.0", v1)
	route("/v1.0/{$}", v1)
	route("/auth/v1.0", v1)
	route("/auth/v1.0/{$}", v1)
	return rts
}

// methods dispatches on the request method: 405 for a method not in m, 404
// if m is empty. HEAD falls back to GET.
func (s *Service) methods(m map[string]handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		h, ok := m[r.Method]
		if !ok && r.Method == http.MethodHead {
			h, ok = m[http.MethodGet]
		}
		switch {
		case len(m) == 0:
			err = fault.New(fault.NotFound, "identity.route", "The resource could not be found.")
		case !ok:
			allow := make([]string, 0, len(m))
			for k := range m {
				allow = append(allow, k)
			}
			slices.Sort(allow)
			w.Header().Set("Allow", strings.Join(allow, ", "))
			err = fault.New(fault.BadMethod, "identity.route", "The method is not allowed for the requested URL.")
		default:
			if r.Body != nil {
				r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
			}
			err = h(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

// statusOf maps a fault kind to an HTTP status and Keystone error title.
func statusOf(k fault.Kind) (int, string) {
	switch k {
	case fault.Invalid:
		return http.StatusBadRequest, "Bad Request"
	case fault.Unauthorized:
		return http.StatusUnauthorized, "Unauthorized"
	case fault.Forbidden:
		return http.StatusForbidden, "Forbidden"
	case fault.NotFound:
		return http.StatusNotFound, "Not Found"
	case fault.BadMethod:
		return http.StatusMethodNotAllowed, "Method Not Allowed"
	case fault.Conflict:
		return http.StatusConflict, "Conflict"
	case fault.OverLimit:
		return http.StatusRequestEntityTooLarge, "Request Entity Too Large"
	case fault.BadMediaType:
		return http.StatusUnsupportedMediaType, "Unsupported Media Type"
	case fault.NotImplemented:
		return http.StatusNotImplemented, "Not Implemented"
	case fault.Unavailable:
		return http.StatusServiceUnavailable, "Service Unavailable"
	}
	return http.StatusInternalServerError, "Internal Server Error"
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    int    `json:"code"`
	Title   string `json:"title"`
	Message string `json:"message"`
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind := fault.KindOf(err)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away; nobody reads the answer
	}
	code, title := statusOf(kind)
	msg := fault.Message(err)
	if code >= 500 {
		s.log.ErrorContext(r.Context(), "identity request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		if kind == fault.Internal || msg == "" {
			msg = "An unexpected error prevented the server from fulfilling your request."
		}
	} else {
		s.log.DebugContext(r.Context(), "identity request refused", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	}
	if msg == "" {
		msg = title
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Keystone uri="`+s.baseURL(r)+Prefix+`/v3"`)
	}
	writeJSON(w, code, errorBody{Error: errorDetail{Code: code, Title: title, Message: msg}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Vary", "X-Auth-Token")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // nothing to do about a failed write
}

// decodeJSON decodes a request body into v; a malformed body is
// fault.Invalid (an oversized one fault.OverLimit).
func decodeJSON(r *http.Request, v any) error { return decodeBody(r.Body, v) }

// decodeBody decodes one JSON value from body into v, as decodeJSON.
func decodeBody(body io.Reader, v any) error {
	const op = "identity.decode"
	if err := json.NewDecoder(body).Decode(v); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return fault.Wrap(fault.OverLimit, op, "Request body is too large.", err)
		}
		return fault.Wrap(fault.Invalid, op, "Malformed request body: "+jsonProblem(err), err)
	}
	return nil
}

// jsonProblem gives a client-safe description of a JSON decoding error.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "invalid JSON"
	case errors.As(err, &te):
		if te.Field != "" {
			return "wrong type for field " + te.Field
		}
		return "wrong JSON type"
	}
	return "invalid JSON"
}

// baseURL is the configured public URL, or one derived from the request.
func (s *Service) baseURL(r *http.Request) string {
	if s.public != "" {
		return s.public
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// databaseURL is the Cloud Databases endpoint of project projectID.
func (s *Service) databaseURL(r *http.Request, projectID string) string {
	return s.baseURL(r) + "/v1.0/" + projectID
}

// session returns the validated session of the request's X-Auth-Token.
func (s *Service) requestSession(r *http.Request) (*session, error) {
	return s.validate(r.Context(), r.Header.Get("X-Auth-Token"))
}

// requireAdmin returns the request's session if it has the admin role,
// else fault.Unauthorized (bad token) or fault.Forbidden.
func (s *Service) requireAdmin(r *http.Request) (*session, error) {
	ss, err := s.requestSession(r)
	if err != nil {
		return nil, err
	}
	if !ss.principal().IsAdmin() {
		return nil, fault.New(fault.Forbidden, "identity.admin", "You are not authorized to perform the requested action.")
	}
	return ss, nil
}

type link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

type mediaType struct {
	Base string `json:"base"`
	Type string `json:"type"`
}

type versionDoc struct {
	ID         string      `json:"id"`
	Status     string      `json:"status"`
	Updated    string      `json:"updated"`
	Links      []link      `json:"links"`
	MediaTypes []mediaType `json:"media-types"`
}

func (s *Service) v3Doc(r *http.Request) versionDoc {
	return versionDoc{
		ID: "v3.14", Status: "stable", Updated: "2020-04-07T00:00:00Z",
		Links:      []link{{Rel: "self", Href: s.baseURL(r) + Prefix + "/v3/"}},
		MediaTypes: []mediaType{{Base: "application/json", Type: "application/vnd.openstack.identity-v3+json"}},
	}
}

func (s *Service) v2Doc(r *http.Request) versionDoc {
	return versionDoc{
		ID: "v2.0", Status: "stable", Updated: "2014-04-17T00:00:00Z",
		Links:      []link{{Rel: "self", Href: s.baseURL(r) + Prefix + "/v2.0/"}},
		MediaTypes: []mediaType{{Base: "application/json", Type: "application/vnd.openstack.identity-v2.0+json"}},
	}
}

func (s *Service) handleVersions(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Versions struct {
			Values []versionDoc `json:"values"`
		} `json:"versions"`
	}
	body.Versions.Values = []versionDoc{s.v3Doc(r), s.v2Doc(r)}
	writeJSON(w, http.StatusMultipleChoices, body)
	return nil
}

func (s *Service) handleV3Version(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]versionDoc{"version": s.v3Doc(r)})
	return nil
}

func (s *Service) handleV2Version(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]versionDoc{"version": s.v2Doc(r)})
	return nil
}
