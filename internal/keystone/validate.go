package keystone

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/identity"
)

// tokenBody is the part of a Keystone v3 token document hoard reads.
type tokenBody struct {
	Token struct {
		ExpiresAt time.Time `json:"expires_at"`
		User      struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"user"`
		Project *struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"project"`
		Roles []struct {
			Name string `json:"name"`
		} `json:"roles"`
	} `json:"token"`
}

// principal maps a validated token document to hoard's principal. Role
// names are lower-cased (Keystone compares them without case: "Member" and
// "member" are one role).
func (tb *tokenBody) principal() *identity.Principal {
	t := &tb.Token
	p := &identity.Principal{UserID: t.User.ID, UserName: t.User.Name, ExpiresAt: t.ExpiresAt}
	if t.Project != nil {
		p.ProjectID, p.ProjectName = t.Project.ID, t.Project.Name
	}
	for _, r := range t.Roles {
		p.Roles = append(p.Roles, strings.ToLower(r.Name))
	}
	return p
}

func errBadToken(op string) error {
	return fault.New(fault.Unauthorized, op, "The request you have made requires authentication.")
}

// Authenticate implements the API's Authenticator: the principal of a
// valid, unexpired Keystone token. An invalid, expired or revoked token is
// fault.Unauthorized; Keystone down or refusing hoard is
// fault.Unavailable.
func (c *Client) Authenticate(ctx context.Context, token string) (*identity.Principal, error) {
	const op = "keystone.authenticate"
	if !identity.PlausibleToken(token) {
		return nil, errBadToken(op)
	}
	key := sha256.Sum256([]byte(token))
	now := c.now()
	if p, ok := c.cache.get(key, now); ok {
		return p, nil
	}
	p, err := c.validate(ctx, token)
	if err != nil {
		return nil, err
	}
	if !now.Before(p.ExpiresAt) {
		return nil, errBadToken(op)
	}
	c.cache.put(key, p, now)
	return p, nil
}

// validate asks Keystone (GET /v3/auth/tokens?nocatalog).
func (c *Client) validate(ctx context.Context, token string) (*identity.Principal, error) {
	const op = "keystone.validate_token"
	const path = "/v3/auth/tokens?nocatalog"
	status, b, err := c.call(ctx, http.MethodGet, path, http.Header{"X-Subject-Token": {token}}, nil)
	if err != nil {
		if fault.KindOf(err) == fault.Unavailable { // logged where it was made
			return nil, err
		}
		if ctx.Err() != nil { // the client went away
			return nil, errUnavailable(op, err)
		}
		c.log.Warn("Keystone unreachable", "op", op, "err", err)
		return nil, errUnavailable(op, err)
	}
	switch status {
	case http.StatusOK:
		var tb tokenBody
		if err := json.Unmarshal(b, &tb); err != nil || tb.Token.User.ID == "" || tb.Token.ExpiresAt.IsZero() {
			err := fmt.Errorf("keystone: token document without a user or an expiry (decode: %v)", err)
			c.log.Error("Keystone answered a token validation oddly", "op", op, "err", err)
			return nil, errUnavailable(op, err)
		}
		return tb.principal(), nil
	case http.StatusNotFound, http.StatusBadRequest:
		// Unknown, malformed, expired or revoked: Keystone's 404 (400 for
		// a token it cannot even parse).
		return nil, errBadToken(op)
	}
	err = &statusError{method: http.MethodGet, path: path, status: status, msg: keystoneMessage(b)}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		// A new service token was refused too, or its user may not
		// validate tokens: the operator's to fix.
		c.log.Error("Keystone refuses hoard's token validations: give the service user the service or admin role",
			"op", op, "user", c.cfg.ServiceUser, "status", status, "message", keystoneMessage(b))
	default:
		c.log.Warn("Keystone failed a token validation", "op", op, "status", status)
	}
	return nil, errUnavailable(op, err)
}

// maxCached bounds the validation cache; when full it is emptied (it only
// saves round trips to Keystone).
const maxCached = 10000

// cache remembers validated principals by token hash for a bounded time.
type cache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[[sha256.Size]byte]cached
}

type cached struct {
	p     identity.Principal
	until time.Time
}

func newCache(ttl time.Duration) *cache {
	return &cache{ttl: ttl, m: map[[sha256.Size]byte]cached{}}
}

// get returns a copy of the principal cached for key, if still fresh.
func (c *cache) get(key [sha256.Size]byte, now time.Time) (*identity.Principal, bool) {
	if c.ttl <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return nil, false
	}
	if !now.Before(e.until) {
		delete(c.m, key)
		return nil, false
	}
	p := e.p
	p.Roles = append([]string(nil), e.p.Roles...)
	return &p, true
}

// put caches p until the earlier of now+ttl and the token's expiry.
func (c *cache) put(key [sha256.Size]byte, p *identity.Principal, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	until := now.Add(c.ttl)
	if p.ExpiresAt.Before(until) {
		until = p.ExpiresAt
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCached {
		clear(c.m)
	}
	e := cached{p: *p, until: until}
	e.p.Roles = append([]string(nil), p.Roles...)
	c.m[key] = e
}
