package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hoard-db/hoard/internal/identity"
)

// Cookie names. The session cookie holds the identity token itself; the
// login cookie holds the random CSRF secret of the login form.
const (
	sessionCookie = "hoard_session"
	loginCookie   = "hoard_login"
	flashCookie   = "hoard_flash"
	csrfField     = "csrf_token"
)

// session is a logged-in user's request context.
type session struct {
	token     string
	principal *identity.Principal
	csrf      string
	projects  []project // the user's projects, for the switcher; loaded lazily by pages
}

// project is one of the user's projects.
type project struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// csrfToken derives the CSRF token of a session token: an HMAC under the
// dashboard's key, so that it needs no storage and cannot be computed
// without the key.
func (d *Dashboard) csrfToken(sessionToken string) string {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte("csrf\x00"))
	m.Write([]byte(sessionToken))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether the form's token equals want (in constant
// time).
func checkCSRF(r *http.Request, want string) bool {
	got := r.PostFormValue(csrfField)
	return got != "" && want != "" && hmac.Equal([]byte(got), []byte(want))
}

func (d *Dashboard) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     Prefix,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   d.secure || r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	}
}

// pageFunc is a handler of a logged-in user's request.
type pageFunc func(w http.ResponseWriter, r *http.Request, s *session)

// authed wraps h: a request without a valid session goes to the login page
// (or gets 401 for the JSON endpoints); a POST without the session's CSRF
// token is refused with 403.
func (d *Dashboard) authed(h pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		var p *identity.Principal
		if err == nil && identity.PlausibleToken(c.Value) {
			p, err = d.auth.Authenticate(r.Context(), c.Value)
		} else if err == nil {
			err = http.ErrNoCookie
		}
		if err != nil || p == nil {
			if c != nil {
				http.SetCookie(w, d.cookie(r, sessionCookie, "", -1))
			}
			if strings.HasSuffix(r.URL.Path, ".json") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"error":"login required"}`))
				return
			}
			if r.Method != http.MethodGet {
				d.forbidden(w, r, "Your session has ended: log in again.")
				return
			}
			http.Redirect(w, r, "/dashboard/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		s := &session{token: c.Value, principal: p, csrf: d.csrfToken(c.Value)}
		if r.Method == http.MethodPost && !checkCSRF(r, s.csrf) {
			d.forbidden(w, r, "The form has expired or did not come from this dashboard: reload the page and try again.")
			return
		}
		h(w, r, s)
	}
}

// forbidden answers 403 with a small page.
func (d *Dashboard) forbidden(w http.ResponseWriter, r *http.Request, msg string) {
	d.render(w, r, http.StatusForbidden, "error", &page{Title: "Refused", Error: msg})
}

// loginPage serves GET /dashboard/login: the form, tied to a fresh random
// login cookie.
func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	d.renderLogin(w, r, http.StatusOK, loginForm{Next: safeNext(r.URL.Query().Get("next"))}, "")
}

type loginForm struct {
	User, Project, Next, Field string
	Msg                        string // the fault, shown next to Field
}

func (d *Dashboard) renderLogin(w http.ResponseWriter, r *http.Request, status int, f loginForm, msg string) {
	secret := randomToken()
	http.SetCookie(w, d.cookie(r, loginCookie, secret, 3600))
	f.Msg = msg
	d.render(w, r, status, "login", &page{Title: "Log in", CSRF: secret, Form: f})
}

// login serves POST /dashboard/login: it asks the identity service for a
// token scoped to the named project (or the user's default one), and
// stores it in the session cookie.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(loginCookie)
	if err != nil || !checkCSRF(r, c.Value) {
		d.forbidden(w, r, "The login form has expired: reload the page and try again.")
		return
	}
	f := loginForm{
		User:    strings.TrimSpace(r.PostFormValue("user")),
		Project: strings.TrimSpace(r.PostFormValue("project")),
		Next:    safeNext(r.PostFormValue("next")),
	}
	pw := r.PostFormValue("password")
	if f.User == "" || pw == "" {
		f.Field = "user"
		if f.User != "" {
			f.Field = "password"
		}
		d.renderLogin(w, r, http.StatusBadRequest, f, "Enter your user name and password.")
		return
	}
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{
			"methods": []string{"password"},
			"password": map[string]any{"user": map[string]any{
				"name": f.User, "password": pw, "domain": map[string]string{"id": "default"},
			}},
		},
	}}
	if f.Project != "" {
		body["auth"].(map[string]any)["scope"] = map[string]any{
			"project": map[string]any{"name": f.Project, "domain": map[string]string{"id": "default"}},
		}
	}
	tok, expires, err := d.issue(r, body)
	if err != nil {
		f.Field = "password"
		if f.Project != "" && statusOf(err) != http.StatusUnauthorized {
			f.Field = "project"
		}
		d.renderLogin(w, r, statusOf(err), f, faultMessage(err))
		return
	}
	http.SetCookie(w, d.cookie(r, loginCookie, "", -1))
	d.setSession(w, r, tok, expires)
	next := f.Next
	if next == "" {
		next = "/dashboard/instances"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// issue posts a v3 token request and returns the new token and its expiry.
func (d *Dashboard) issue(r *http.Request, body any) (string, time.Time, error) {
	var out struct {
		Token struct {
			ExpiresAt string `json:"expires_at"`
			Project   *struct {
				ID string `json:"id"`
			} `json:"project"`
		} `json:"token"`
	}
	resp, err := d.call(r.Context(), "", http.MethodPost, "/identity/v3/auth/tokens", body, &out)
	if err != nil {
		return "", time.Time{}, err
	}
	if out.Token.Project == nil {
		return "", time.Time{}, &APIError{Status: http.StatusUnauthorized, Name: "unauthorized",
			Message: "You have no project: ask an administrator to give you a role on one."}
	}
	exp, _ := time.Parse("2006-01-02T15:04:05.000000Z", out.Token.ExpiresAt)
	return resp.header.Get("X-Subject-Token"), exp, nil
}

func (d *Dashboard) setSession(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	maxAge := 0 // a browser-session cookie if the expiry is unknown
	if !expires.IsZero() {
		maxAge = max(int(expires.Sub(d.now()).Seconds()), 1)
	}
	http.SetCookie(w, d.cookie(r, sessionCookie, token, maxAge))
}

// logout serves POST /dashboard/logout: the token is revoked and the cookie
// cleared.
func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request, s *session) {
	d.revoke(r, s.token, s.token)
	http.SetCookie(w, d.cookie(r, sessionCookie, "", -1))
	http.Redirect(w, r, "/dashboard/login", http.StatusSeeOther)
}

func (d *Dashboard) revoke(r *http.Request, caller, subject string) {
	req := func() error {
		ctx := r.Context()
		rec := &recorder{header: http.Header{}}
		hr, err := http.NewRequestWithContext(ctx, http.MethodDelete, d.base+"/identity/v3/auth/tokens", http.NoBody)
		if err != nil {
			return err
		}
		hr.RequestURI = hr.URL.RequestURI()
		hr.RemoteAddr = remoteAddrFrom(ctx)
		hr.Header.Set("X-Auth-Token", caller)
		hr.Header.Set("X-Subject-Token", subject)
		d.api.ServeHTTP(rec, hr)
		if rec.status >= 300 {
			return decodeFault(rec.status, rec.body.Bytes())
		}
		return nil
	}
	if err := req(); err != nil {
		d.log.Debug("revoke session token", "err", err)
	}
}

// projects lists the user's projects (GET /identity/v3/auth/projects).
func (d *Dashboard) projects(r *http.Request, s *session) []project {
	if s.projects != nil {
		return s.projects
	}
	var out struct {
		Projects []project `json:"projects"`
	}
	if _, err := d.call(r.Context(), s.token, http.MethodGet, "/identity/v3/auth/projects", nil, &out); err != nil {
		d.log.Debug("list the user's projects", "err", err)
	}
	s.projects = out.Projects
	if s.projects == nil {
		s.projects = []project{}
	}
	return s.projects
}

// switchProject serves POST /dashboard/project: the session's token is
// exchanged for one scoped to another of the user's projects.
func (d *Dashboard) switchProject(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PostFormValue("project_id")
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"token"}, "token": map[string]string{"id": s.token}},
		"scope":    map[string]any{"project": map[string]string{"id": id}},
	}}
	tok, expires, err := d.issue(r, body)
	if err != nil {
		d.render(w, r, statusOf(err), "error", d.newPage(r, s, "Project not switched", faultMessage(err)))
		return
	}
	d.revoke(r, tok, s.token)
	d.setSession(w, r, tok, expires)
	http.Redirect(w, r, "/dashboard/instances", http.StatusSeeOther)
}

// safeNext keeps a post-login destination only if it is a dashboard path
// (never another site).
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	return next
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// setFlash stores a one-time notice shown by the next page.
func (d *Dashboard) setFlash(w http.ResponseWriter, r *http.Request, msg string) {
	http.SetCookie(w, d.cookie(r, flashCookie, url.QueryEscape(msg), 60))
}

// takeFlash reads and clears the notice.
func (d *Dashboard) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, d.cookie(r, flashCookie, "", -1))
	msg, _ := url.QueryUnescape(c.Value)
	return msg
}
