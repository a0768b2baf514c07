package dashboard

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hoard-db/hoard/internal/identity"
)

// Prefix is the path under which the dashboard is served.
const Prefix = "/dashboard/"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Authenticator validates session tokens (implemented by package identity,
// as for the API).
type Authenticator interface {
	// Authenticate returns the principal of a valid, unexpired token, or an
	// error of kind fault.Unauthorized.
	Authenticate(ctx context.Context, token string) (*identity.Principal, error)
}

// Config configures a [Dashboard].
type Config struct {
	// API is the whole API listener's handler (Trove API and identity,
	// api.Server.Handler): every read and change is a request to it.
	API http.Handler
	// Auth validates the session's token to learn who is logged in.
	Auth Authenticator
	// PublicURL is the base URL users reach hoard at; an https URL makes
	// the cookies Secure (as does a request that arrived over TLS).
	PublicURL string
	// Key, if set, keys the CSRF tokens' HMAC. Empty is safe too: a CSRF
	// token is derived from the session token, which only the browser holds
	// (an HttpOnly cookie) and cannot be guessed; without a per-process key
	// tokens stay valid across restarts and across replicas sharing a store.
	Key []byte
	// Logger receives errors (default: discarded).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// PollInterval is how often the pages' script polls live status
	// (default 2s).
	PollInterval time.Duration
}

// Dashboard is the web dashboard; it is safe for concurrent use.
type Dashboard struct {
	api      http.Handler
	auth     Authenticator
	base     string
	secure   bool
	key      []byte
	host     string // the host of Config.PublicURL, also a same origin
	log      *slog.Logger
	now      func() time.Time
	poll     time.Duration
	pages    map[string]*template.Template
	handler  http.Handler
	patterns []string
}

// New returns a dashboard; it panics if cfg.API or cfg.Auth is nil, or if
// the embedded templates do not parse (a programmer error).
func New(cfg Config) *Dashboard {
	if cfg.API == nil || cfg.Auth == nil {
		panic("dashboard: New needs an API handler and an Authenticator")
	}
	d := &Dashboard{
		api:    cfg.API,
		auth:   cfg.Auth,
		base:   "http://hoard.invalid",
		secure: strings.HasPrefix(strings.ToLower(cfg.PublicURL), "https://"),
		key:    cfg.Key,
		log:    cfg.Logger,
		now:    cfg.Now,
		poll:   cfg.PollInterval,
	}
	if u, err := url.Parse(cfg.PublicURL); err == nil {
		d.host = u.Host
	}
	if len(d.key) == 0 {
		d.key = []byte("hoard-dashboard-csrf")
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.poll <= 0 {
		d.poll = 2 * time.Second
	}
	d.pages = parsePages()
	d.handler = d.routes()
	return d
}

// Handler serves every path under [Prefix]; mount it with
// mux.Handle(dashboard.Prefix, d.Handler()).
func (d *Dashboard) Handler() http.Handler { return d.handler }

func (d *Dashboard) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) {
		d.patterns = append(d.patterns, pattern)
		mux.HandleFunc(pattern, h)
	}
	static, _ := fs.Sub(staticFS, "static")
	d.patterns = append(d.patterns, "GET /dashboard/static/")
	mux.Handle("GET /dashboard/static/", http.StripPrefix("/dashboard/static/", cacheStatic(http.FileServerFS(static))))

	handle("GET /dashboard/{$}", d.authed(d.home))
	handle("GET /dashboard/login", d.loginPage)
	handle("POST /dashboard/login", d.login)
	handle("POST /dashboard/logout", d.authed(d.logout))
	handle("POST /dashboard/project", d.authed(d.switchProject))

	handle("GET /dashboard/instances", d.authed(d.instancesPage))
	handle("GET /dashboard/instances/status.json", d.authed(d.instancesStatus))
	handle("GET /dashboard/instances/new", d.authed(d.createPage))
	handle("POST /dashboard/instances", d.authed(d.createInstance))
	handle("GET /dashboard/instances/{id}", d.authed(d.instancePage))
	handle("GET /dashboard/instances/{id}/status.json", d.authed(d.instanceStatus))
	handle("GET /dashboard/instances/{id}/delete", d.authed(d.deletePage))
	handle("POST /dashboard/instances/{id}/{action}", d.authed(d.instanceAction))
	handle("POST /dashboard/instances/{id}/log", d.authed(d.logAction))
	handle("GET /dashboard/instances/{id}/logs/{name}", d.authed(d.downloadLog))
	handle("POST /dashboard/instances/{id}/databases/{name}/delete", d.authed(d.deleteDatabase))
	handle("POST /dashboard/instances/{id}/users/{name}/delete", d.authed(d.deleteUser))

	handle("GET /dashboard/backups", d.authed(d.backupsPage))
	handle("POST /dashboard/backups/{id}/delete", d.authed(d.deleteBackup))
	handle("POST /dashboard/schedules", d.authed(d.createSchedule))
	handle("POST /dashboard/schedules/{id}/delete", d.authed(d.deleteSchedule))

	handle("GET /dashboard/configurations", d.authed(d.configurationsPage))
	handle("POST /dashboard/configurations", d.authed(d.createConfiguration))
	handle("GET /dashboard/configurations/{id}", d.authed(d.configurationPage))
	handle("POST /dashboard/configurations/{id}/delete", d.authed(d.deleteConfiguration))

	handle("GET /dashboard/quotas", d.authed(d.quotasPage))
	handle("POST /dashboard/quotas/{project}", d.authed(d.updateQuotas))

	return d.secureHeaders(mux)
}

// secureHeaders sets the headers every dashboard answer carries, refuses
// cross-origin POSTs, and records the client's address for the API's log.
func (d *Dashboard) secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if r.Method == http.MethodPost && !sameOrigin(r, d.host) {
			d.forbidden(w, r, "The request came from another site.")
			return
		}
		next.ServeHTTP(w, r.WithContext(withRemoteAddr(r.Context(), r.RemoteAddr)))
	})
}

// sameOrigin reports whether a POST comes from a page of this site: its
// Origin (or, without one, its Referer) names the request's host, or the
// public URL's (behind a proxy that rewrites Host). Browsers send Origin on
// every POST; a request with neither header is not from a browser page of
// another site, and CSRF tokens still guard it.
func sameOrigin(r *http.Request, publicHost string) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" {
		return true
	}
	if src == "null" {
		return false
	}
	rest, ok := strings.CutPrefix(src, "http://")
	if !ok {
		if rest, ok = strings.CutPrefix(src, "https://"); !ok {
			return false
		}
	}
	host, _, _ := strings.Cut(rest, "/")
	return strings.EqualFold(host, r.Host) || (publicHost != "" && strings.EqualFold(host, publicHost))
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}
