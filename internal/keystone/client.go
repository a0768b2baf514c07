package keystone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/identity"
)

// DefaultDomain is the name of the domain Keystone's bootstrap creates.
const DefaultDomain = "Default"

// DefaultTimeout bounds one request to Keystone when Config.HTTPClient is
// not set.
const DefaultTimeout = 10 * time.Second

// maxBody bounds what is read of a Keystone answer (tokens are validated
// with ?nocatalog; lists of services and endpoints are small).
const maxBody = 4 << 20

// Config configures a [Client].
type Config struct {
	// URL is Keystone's public endpoint, with or without the trailing
	// /v3 (as in OS_AUTH_URL): http://keystone.example.com:5000/v3.
	URL string
	// ServiceUser, ServicePassword and ServiceProject are hoard's own
	// credentials in Keystone. The user needs a role that may validate
	// other users' tokens (service or admin) and, to register the
	// endpoint, admin.
	ServiceUser     string
	ServicePassword string
	ServiceProject  string
	// ServiceUserDomain and ServiceProjectDomain are domain names
	// (default "Default"); the ...DomainID fields, when set, name the
	// domains by id instead (as a clouds.yaml entry may).
	ServiceUserDomain      string
	ServiceProjectDomain   string
	ServiceUserDomainID    string
	ServiceProjectDomainID string
	// CacheTTL is how long a validated token is reused without asking
	// Keystone again, and so how long a revoked token may still be
	// honoured (default identity.DefaultValidationCacheTTL; negative turns
	// the cache off).
	CacheTTL time.Duration
	// HTTPClient defaults to a client with a DefaultTimeout timeout.
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives Keystone failures (default: discarded). Tokens and
	// passwords are never logged.
	Logger *slog.Logger
}

// Client talks to one Keystone with hoard's service credentials. It
// implements the API's Authenticator. It is safe for concurrent use.
type Client struct {
	cfg   Config
	base  string // Keystone's URL without /v3 and without a trailing '/'
	hc    *http.Client
	now   func() time.Time
	log   *slog.Logger
	cache *cache

	mu       sync.Mutex // guards the service token; held while one is obtained
	svcToken string
	renewAt  time.Time
}

// New returns a client of the Keystone cfg.URL. It does not contact it.
func New(cfg Config) (*Client, error) {
	base, err := baseURL(cfg.URL)
	if err != nil {
		shown := "(unparsable)"
		if u, perr := url.Parse(cfg.URL); perr == nil {
			shown = u.Redacted() // never a password given in the URL
		}
		return nil, fmt.Errorf("keystone: URL %q: %w", shown, err)
	}
	if cfg.ServiceUser == "" || cfg.ServicePassword == "" || cfg.ServiceProject == "" {
		return nil, errors.New("keystone: the service user, password and project must be set")
	}
	if cfg.ServiceUserDomain == "" {
		cfg.ServiceUserDomain = DefaultDomain
	}
	if cfg.ServiceProjectDomain == "" {
		cfg.ServiceProjectDomain = DefaultDomain
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = identity.DefaultValidationCacheTTL
	}
	c := &Client{cfg: cfg, base: base, hc: cfg.HTTPClient, now: cfg.Now, log: cfg.Logger}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: DefaultTimeout}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.cache = newCache(cfg.CacheTTL)
	return c, nil
}

// baseURL checks an http(s) URL and drops a trailing "/" and "/v3".
func baseURL(s string) (string, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("want an http:// or https:// URL")
	case u.Host == "":
		return "", errors.New("want a host")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("want no user, query or fragment")
	}
	s = strings.TrimRight(s, "/")
	s = strings.TrimSuffix(s, "/v3")
	return strings.TrimRight(s, "/"), nil
}

// errUnavailable is what a client sees when Keystone cannot answer; the
// cause goes to the log only.
func errUnavailable(op string, err error) error {
	return fault.Wrap(fault.Unavailable, op, "The identity service is unavailable. Please try again later.", err)
}

// statusError is a Keystone answer that was not expected.
type statusError struct {
	method, path string
	status       int
	msg          string // Keystone's error message, if any
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("keystone: %s %s: %d", e.method, e.path, e.status)
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s
}

// keystoneMessage extracts {"error":{"message":...}} from a Keystone body.
func keystoneMessage(b []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) != nil {
		return ""
	}
	return e.Error.Message
}

// send makes one request to Keystone. token is the X-Auth-Token ("" for
// none); extra headers may be nil. It returns the status, the headers and
// the body (read up to maxBody).
func (c *Client) send(ctx context.Context, method, path, token string, extra http.Header, body []byte) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, b, nil
}

// serviceToken returns a valid service token, obtaining a new one when
// there is none or the current one is near its expiry.
func (c *Client) serviceToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.svcToken != "" && c.now().Before(c.renewAt) {
		return c.svcToken, nil
	}
	tok, expires, err := c.login(ctx)
	if err != nil {
		return "", err
	}
	// Renewed when three quarters of its life are gone.
	now := c.now()
	c.svcToken, c.renewAt = tok, now.Add(expires.Sub(now)*3/4)
	c.log.Debug("obtained a Keystone service token", "expires_at", expires)
	return tok, nil
}

// dropServiceToken forgets tok if it is still the current service token
// (Keystone refused it: revoked, or its user changed).
func (c *Client) dropServiceToken(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.svcToken == tok {
		c.svcToken = ""
	}
}

type domainRef struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// domain names a domain by id if given, else by name.
func domain(id, name string) domainRef {
	if id != "" {
		return domainRef{ID: id}
	}
	return domainRef{Name: name}
}

type nameDomain struct {
	Name   string    `json:"name"`
	Domain domainRef `json:"domain"`
}

// login authenticates hoard's service user (POST /v3/auth/tokens, password
// method, scoped to the service project).
func (c *Client) login(ctx context.Context) (string, time.Time, error) {
	const op = "keystone.service_token"
	type passwordUser struct {
		nameDomain
		Password string `json:"password"`
	}
	var req struct {
		Auth struct {
			Identity struct {
				Methods  []string `json:"methods"`
				Password struct {
					User passwordUser `json:"user"`
				} `json:"password"`
			} `json:"identity"`
			Scope struct {
				Project nameDomain `json:"project"`
			} `json:"scope"`
		} `json:"auth"`
	}
	req.Auth.Identity.Methods = []string{"password"}
	u := &req.Auth.Identity.Password.User
	u.Name, u.Password = c.cfg.ServiceUser, c.cfg.ServicePassword
	u.Domain = domain(c.cfg.ServiceUserDomainID, c.cfg.ServiceUserDomain)
	p := &req.Auth.Scope.Project
	p.Name, p.Domain = c.cfg.ServiceProject, domain(c.cfg.ServiceProjectDomainID, c.cfg.ServiceProjectDomain)
	body, err := json.Marshal(req)
	if err != nil {
		return "", time.Time{}, err
	}
	status, hdr, b, err := c.send(ctx, http.MethodPost, "/v3/auth/tokens", "", nil, body)
	if err != nil {
		c.log.Warn("Keystone unreachable", "op", op, "err", err)
		return "", time.Time{}, errUnavailable(op, err)
	}
	if status != http.StatusCreated && status != http.StatusOK {
		err := &statusError{method: http.MethodPost, path: "/v3/auth/tokens", status: status, msg: keystoneMessage(b)}
		c.log.Error("Keystone refused hoard's service credentials", "op", op, "user", c.cfg.ServiceUser,
			"project", c.cfg.ServiceProject, "status", status, "message", err.msg)
		return "", time.Time{}, errUnavailable(op, err)
	}
	tok := hdr.Get("X-Subject-Token")
	var tb tokenBody
	if err := json.Unmarshal(b, &tb); err != nil || tok == "" || tb.Token.ExpiresAt.IsZero() {
		err := fmt.Errorf("keystone: service token answer without a token or an expiry (decode: %v)", err)
		c.log.Error("Keystone answered the service login oddly", "op", op, "err", err)
		return "", time.Time{}, errUnavailable(op, err)
	}
	return tok, tb.Token.ExpiresAt, nil
}

// call makes a request authenticated by the service token; when Keystone
// answers 401 (the token was revoked) it obtains a new one and tries once
// more.
func (c *Client) call(ctx context.Context, method, path string, extra http.Header, body []byte) (int, []byte, error) {
	for attempt := 0; ; attempt++ {
		tok, err := c.serviceToken(ctx)
		if err != nil {
			return 0, nil, err
		}
		status, _, b, err := c.send(ctx, method, path, tok, extra, body)
		if err != nil {
			return 0, nil, err
		}
		if status == http.StatusUnauthorized && attempt == 0 {
			c.dropServiceToken(tok)
			continue
		}
		return status, b, nil
	}
}
