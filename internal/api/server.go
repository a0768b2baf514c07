package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hoard-db/hoard/internal/fault"
)

// Defaults applied by [New] to zero fields of [Config].
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultPageSize     = 20
	DefaultMaxPageSize  = 100
)

// Config configures a [Server]. The zero value is usable.
type Config struct {
	// MaxBodyBytes caps request bodies (default 1 MiB); larger bodies get
	// 413 overLimit.
	MaxBodyBytes int64
	// RateLimit is the number of requests per minute allowed per tenant (a
	// token bucket holding up to RateLimit tokens); 0 turns limiting off.
	RateLimit int
	// PageSize is the page size of lists without a limit (default 20).
	PageSize int
	// MaxPageSize is the largest page served (default 100); a larger limit
	// is clamped to it.
	MaxPageSize int
	// PublicURL is the base URL clients reach hoard at, e.g.
	// "https://db.example.com" (a trailing '/' is dropped). When set, every
	// link (self, bookmark, the next links of pages, the version document)
	// is built from it, never from the request's Host or X-Forwarded-Proto
	// headers, which any client may set. Empty derives links from the
	// request: for tests and embedding only; hoard serve always sets it.
	PublicURL string
	// Identity, when non-nil, is mounted at /identity/ and sees full paths
	// (/identity/v3/auth/tokens), as identity.Service.Handler expects.
	Identity http.Handler
	// Logger receives the access log and errors (default: discarded).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Metrics, when non-nil, serves GET /metrics (Prometheus text format,
	// no authentication, as Prometheus scrapes).
	Metrics http.Handler
	// Observe, if set, is told of every request: its method, the route
	// pattern that served it ("" if none), status and duration. Metrics use
	// it; it must not block.
	Observe func(method, route string, status int, d time.Duration)
}

// Server is the Trove v1.0 HTTP API. It is safe for concurrent use.
type Server struct {
	cfg      Config
	b        Backend
	auth     Authenticator
	log      *slog.Logger
	now      func() time.Time
	mux      *http.ServeMux
	limiter  *rateLimiter
	draining atomic.Bool
	handler  http.Handler
	// patterns lists every route registered on mux, in order (the
	// authorization test walks it).
	patterns []string
}

// New returns a server that serves b, authenticating tokens with auth. It
// panics if b or auth is nil.
func New(cfg Config, b Backend, auth Authenticator) *Server {
	if b == nil || auth == nil {
		panic("api: New needs a Backend and an Authenticator")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxPageSize <= 0 {
		cfg.MaxPageSize = DefaultMaxPageSize
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	cfg.PageSize = min(cfg.PageSize, cfg.MaxPageSize)
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, b: b, auth: auth, log: cfg.Logger, now: cfg.Now, mux: http.NewServeMux()}
	if cfg.RateLimit > 0 {
		s.limiter = newRateLimiter(cfg.RateLimit, cfg.Now)
	}
	s.routes()
	s.handler = s.chain(http.HandlerFunc(s.dispatch))
	return s
}

// Handler returns the whole listener: /, /v1.0, /v1.0/, /healthcheck,
// /identity/... and /v1.0/{tenant}/...
func (s *Server) Handler() http.Handler { return s.handler }

// SetDraining switches draining on or off. While draining every request,
// GET /healthcheck included, is answered 503 serviceUnavailable, so that a
// load balancer stops sending traffic before the listener closes.
func (s *Server) SetDraining(on bool) { s.draining.Store(on) }

// handlerFunc is a handler that reports failure by returning an error, which
// is written as a Trove fault.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(pattern string, h handlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeFault(w, r, err)
		}
	})
}

func (s *Server) routes() {
	s.handle("GET /{$}", s.versions)
	s.handle("GET /v1.0", s.version)
	s.handle("GET /v1.0/{$}", s.version)
	s.handle("GET /healthcheck", s.healthcheck)
	if s.cfg.Metrics != nil {
		s.patterns = append(s.patterns, "GET /metrics")
		s.mux.Handle("GET /metrics", s.cfg.Metrics)
	}
	if s.cfg.Identity != nil {
		s.patterns = append(s.patterns, "/identity/")
		s.mux.Handle("/identity/", s.cfg.Identity)
	}

	const t = "/v1.0/{tenant}/"
	s.handle("GET "+t+"flavors", s.listFlavors)
	s.handle("GET "+t+"flavors/{id}", s.getFlavor)

	s.handle("GET "+t+"datastores", s.listDatastores)
	s.handle("GET "+t+"datastores/{ds}", s.getDatastore)
	// One pattern serves both /datastores/{ds}/versions and
	// /datastores/versions/{id}: as two patterns they would overlap
	// (…/datastores/versions/versions) with neither more specific, which
	// ServeMux refuses.
	s.handle("GET "+t+"datastores/{a}/{b}", s.listVersionsOrGetVersionByID)
	s.handle("GET "+t+"datastores/{ds}/versions/{v}", s.getDatastoreVersion)
	s.handle("GET "+t+"datastores/{ds}/versions/{v}/flavors", s.listVersionFlavors)
	// Parameters (configurations.go): /datastores/versions/{id}/parameters
	// and .../{name} overlap the {ds}/versions/{v} patterns, so they are
	// served by three- and four-segment catch-alls.
	s.handle("GET "+t+"datastores/{ds}/versions/{v}/parameters", s.listParameters)
	s.handle("GET "+t+"datastores/{ds}/versions/{v}/parameters/{name}", s.getParameter)
	s.handle("GET "+t+"datastores/{a}/{b}/{c}", s.listParametersByVersionID)
	s.handle("GET "+t+"datastores/{a}/{b}/{c}/{d}", s.getParameterByVersionID)

	s.handle("GET "+t+"configurations", s.listConfigurations)
	s.handle("POST "+t+"configurations", s.createConfiguration)
	s.handle("GET "+t+"configurations/{id}", s.getConfiguration)
	s.handle("PUT "+t+"configurations/{id}", s.replaceConfiguration)
	s.handle("PATCH "+t+"configurations/{id}", s.patchConfiguration)
	s.handle("DELETE "+t+"configurations/{id}", s.deleteConfiguration)
	s.handle("GET "+t+"configurations/{id}/instances", s.listConfigurationInstances)
	s.handle("GET "+t+"instances/{id}/configuration", s.instanceConfiguration)

	s.handle("GET "+t+"instances", s.listInstances)
	s.handle("POST "+t+"instances", s.createInstance)
	s.handle("GET "+t+"instances/detail", s.listInstancesDetail)
	s.handle("GET "+t+"instances/{id}", s.getInstance)
	s.handle("PUT "+t+"instances/{id}", s.updateInstance)
	s.handle("PATCH "+t+"instances/{id}", s.updateInstance)
	s.handle("DELETE "+t+"instances/{id}", s.deleteInstance)
	s.handle("POST "+t+"instances/{id}/action", s.instanceAction)
	s.handle("GET "+t+"instances/{id}/replicas", s.listReplicas)
	s.handle("GET "+t+"instances/{id}/log", s.listLogs)
	s.handle("POST "+t+"instances/{id}/log", s.logAction)
	s.handle("GET "+t+"instances/{id}/ca", s.instanceCA)

	s.handle("POST "+t+"instances/{id}/root", s.enableRoot)
	s.handle("GET "+t+"instances/{id}/root", s.rootStatus)
	s.handle("DELETE "+t+"instances/{id}/root", s.disableRoot)

	s.handle("POST "+t+"instances/{id}/databases", s.createDatabases)
	s.handle("GET "+t+"instances/{id}/databases", s.listDatabases)
	s.handle("GET "+t+"instances/{id}/databases/{name}", s.getDatabase)
	s.handle("DELETE "+t+"instances/{id}/databases/{name}", s.deleteDatabase)

	s.handle("POST "+t+"instances/{id}/users", s.createUsers)
	s.handle("GET "+t+"instances/{id}/users", s.listUsers)
	s.handle("PUT "+t+"instances/{id}/users", s.updatePasswords)
	s.handle("GET "+t+"instances/{id}/users/{name}", s.getUser)
	s.handle("PUT "+t+"instances/{id}/users/{name}", s.updateUser)
	s.handle("DELETE "+t+"instances/{id}/users/{name}", s.deleteUser)
	s.handle("GET "+t+"instances/{id}/users/{name}/databases", s.listAccess)
	s.handle("PUT "+t+"instances/{id}/users/{name}/databases", s.grantAccess)
	s.handle("DELETE "+t+"instances/{id}/users/{name}/databases/{db}", s.revokeAccess)

	s.backupRoutes(t) // backups.go
	s.quotaRoutes(t)  // quotas.go
	s.haRoutes(t)     // ha.go
	s.swiftRoutes(t)  // swift.go
}

// dispatch routes r. ServeMux answers unknown paths and wrong methods in
// plain text, so those two cases are detected first and answered with the
// JSON faults itemNotFound and badMethod (with the mux's Allow header).
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		if ri := reqInfoFrom(r.Context()); ri != nil {
			ri.route = s.routeLabel(pattern, r)
		}
		s.mux.ServeHTTP(w, r)
		return
	}
	probe := &probeWriter{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		if allow := probe.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		s.writeFault(w, r, fault.Errorf(fault.BadMethod, "api.route",
			"The method %s is not allowed for this resource.", r.Method))
		return
	}
	s.writeFault(w, r, fault.New(fault.NotFound, "api.route", "The resource could not be found."))
}

// probeWriter records what ServeMux's own 404/405 handlers would write.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header { return p.header }
func (p *probeWriter) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return len(b), nil
}
func (p *probeWriter) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}

// writeJSON writes v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // hrefs keep their '&'
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("api: encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// writeEmpty writes status with an empty JSON-typed body (Trove's 202s).
func writeEmpty(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}
