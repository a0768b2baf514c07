package api

import (
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/identity"
)

// requestIDHeader is the response header carrying the request id (oslo
// request_id middleware).
const requestIDHeader = "X-Openstack-Request-Id"

type ctxKey struct{}

// reqInfo is what the middleware learns about a request.
type reqInfo struct {
	id        string
	log       *slog.Logger
	principal *identity.Principal // nil until authenticated
	base      string              // Config.PublicURL: the base of links ("" = from the request)
	route     string              // the route that served it, for metrics (routeLabel)
	fault     string              // the public message of a 4xx fault written, for the access log
}

func (ri *reqInfo) logger(fallback *slog.Logger) *slog.Logger {
	if ri == nil || ri.log == nil {
		return fallback
	}
	return ri.log
}

// reqInfoFrom returns the request's info; never nil.
func reqInfoFrom(ctx context.Context) *reqInfo {
	if ri, ok := ctx.Value(ctxKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// statusWriter records the status written, for the access log and for the
// panic handler (which may only write a fault if nothing was written yet).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (sw *statusWriter) WriteHeader(code int) {
	if sw.status == 0 {
		sw.status = code
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *statusWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	n, err := sw.ResponseWriter.Write(b)
	sw.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (sw *statusWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// chain wraps h in the middleware, outermost first: request id, panic
// recovery, access log, draining, body size limit, Content-Type check,
// authentication, rate limit.
func (s *Server) chain(h http.Handler) http.Handler {
	h = s.withRateLimit(h)
	h = s.withAuth(h)
	h = s.withContentType(h)
	h = s.withBodyLimit(h)
	h = s.withDraining(h)
	h = s.withAccessLog(h)
	h = s.withRecover(h)
	return s.withRequestID(h)
}

func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := "req-" + uuid.NewString()
		ri := &reqInfo{id: id, log: s.log.With(slog.String("request_id", id)), base: s.cfg.PublicURL}
		w.Header().Set(requestIDHeader, id)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri)))
	})
}

func (s *Server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler { // net/http's sentinel: let the server abort the response
				panic(p)
			}
			err := fmt.Errorf("api: panic: %v\n%s", p, debug.Stack())
			if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
				// Too late for a fault; the client sees a truncated answer.
				reqInfoFrom(r.Context()).logger(s.log).LogAttrs(context.WithoutCancel(r.Context()), slog.LevelError,
					"internal error", slog.String("err", err.Error()))
				return
			}
			s.writeFault(w, r, err) // logs err, stack included, at error level
		}()
		next.ServeHTTP(w, r)
	})
}

// accessLevel is the level of a request's access log line: reads that
// succeed (the polls of clients waiting for a status, every half second)
// at DEBUG, everything else at INFO.
func accessLevel(method string, status int) slog.Level {
	if (method == http.MethodGet || method == http.MethodHead) && status < 400 {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

func (s *Server) withAccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		panicked := true
		defer func() {
			status := http.StatusOK
			if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
				status = sw.status
			} else if panicked {
				status = http.StatusInternalServerError // written by withRecover
			}
			// The path only: never headers (the token) or bodies. A refusal
			// carries its fault's message (public text, as the client got).
			d := s.now().Sub(start)
			ri := reqInfoFrom(r.Context())
			attrs := []slog.Attr{slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", status), slog.Duration("duration", d)}
			if ri.fault != "" && status >= 400 && status < 500 {
				attrs = append(attrs, slog.String("fault", ri.fault))
			}
			ri.logger(s.log).LogAttrs(context.WithoutCancel(r.Context()), accessLevel(r.Method, status), "request", attrs...)
			if s.cfg.Observe != nil {
				route := ""
				if ri := reqInfoFrom(r.Context()); ri != nil {
					route = ri.route
				}
				s.cfg.Observe(r.Method, route, status, d)
			}
		}()
		next.ServeHTTP(w, r)
		panicked = false
	})
}

func (s *Server) withDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			w.Header().Set("Connection", "close")
			s.writeFault(w, r, fault.New(fault.Unavailable, "api.drain", "The service is shutting down. Please try again later."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) withBodyLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBodyBytes {
			s.writeFault(w, r, bodyTooLarge(s.cfg.MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func bodyTooLarge(max int64) error {
	return fault.Errorf(fault.OverLimit, "api.body", "Request body is larger than the limit of %d bytes.", max)
}

// hasBody reports whether r carries a request body.
func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
}

func (s *Server) withContentType(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/identity/") || !hasBody(r) {
			next.ServeHTTP(w, r)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
			s.writeFault(w, r, fault.New(fault.BadMediaType, "api.content_type", "Unsupported Content-Type"))
			return
		}
		next.ServeHTTP(w, r) // no Content-Type: treated as JSON
	})
}

// isJSON reports whether a Content-Type is application/json, with at most a
// UTF-8 charset parameter.
func isJSON(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// tenantOf returns the tenant of a tenant-scoped path /v1.0/{tenant}/...
func tenantOf(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/v1.0/")
	if !ok {
		return "", false
	}
	tenant, _, ok := strings.Cut(rest, "/")
	if !ok || tenant == "" {
		return "", false
	}
	return tenant, true
}

func (s *Server) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant, ok := tenantOf(r.URL.Path)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		// A token with a control byte, a space or non-ASCII is no token:
		// refused here, as a JSON fault, whatever the Authenticator would
		// make of it. (net/http itself answers a header value with a C0
		// control other than tab, or DEL, with a plain-text 400 before any
		// handler runs; hoard cannot change that answer.)
		token := r.Header.Get("X-Auth-Token")
		if !identity.PlausibleToken(token) {
			s.writeFault(w, r, fault.New(fault.Unauthorized, "api.auth", "The request you have made requires authentication."))
			return
		}
		p, err := s.auth.Authenticate(r.Context(), token)
		if err == nil && p == nil {
			err = fault.New(fault.Unauthorized, "api.auth", "")
		}
		if err != nil {
			if fault.KindOf(err) == fault.Unauthorized && fault.Message(err) == "" {
				err = fault.Wrap(fault.Unauthorized, "api.auth", "The request you have made requires authentication.", err)
			}
			s.writeFault(w, r, err)
			return
		}
		ri := reqInfoFrom(r.Context())
		ri.principal = p
		ri.log = ri.logger(s.log).With(slog.String("tenant_id", tenant))
		if !p.CanAccessTenant(tenant) {
			s.writeFault(w, r, fault.Errorf(fault.Forbidden, "api.auth",
				"User with tenant id %s cannot access this resource.", p.ProjectID))
			return
		}
		if err := authorize(p, r.Method); err != nil {
			s.writeFault(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorize is the one check of what a principal's roles allow on the
// resources of a tenant it may access: GET and HEAD read, every other
// method changes something. Which roles read and which write is
// identity's policy (Principal.CanRead, CanWrite): reader and observer
// read; member, creator and admin also write. Every /v1.0/{tenant} route
// passes here; authz_test.go walks the router's route list.
func authorize(p *identity.Principal, method string) error {
	read := method == http.MethodGet || method == http.MethodHead
	switch {
	case read && p.CanRead(), !read && p.CanWrite():
		return nil
	case p.CanRead():
		return fault.New(fault.Forbidden, "api.authorize", errReadOnlyRole)
	}
	return fault.New(fault.Forbidden, "api.authorize", errNoRole)
}

// The messages of authorize's refusals.
const (
	errReadOnlyRole = "Your roles on this project only allow reading: creating, changing or deleting needs the member role."
	errNoRole       = "You have no role on this project that allows access to its databases."
)

func (s *Server) withRateLimit(next http.Handler) http.Handler {
	if s.limiter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant, ok := tenantOf(r.URL.Path)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if wait, ok := s.limiter.allow(tenant); !ok {
			secs := int((wait + time.Second - 1) / time.Second)
			s.writeFault(w, r, &fault.Error{
				Kind: fault.OverLimit, Op: "api.ratelimit", Msg: "This request was rate-limited.",
				Details:    fmt.Sprintf("Only %d request(s) can be made to * every minute.", s.cfg.RateLimit),
				RetryAfter: max(secs, 1),
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}
