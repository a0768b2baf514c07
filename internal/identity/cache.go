package identity

import (
	"sync"
	"time"
)

// DefaultValidationCacheTTL is how long a validated token's principal is
// reused without asking the store again.
const DefaultValidationCacheTTL = 10 * time.Second

// maxCachedTokens bounds the validation cache; when it is full it is
// emptied (a cheap, safe policy: the cache only saves store lookups).
const maxCachedTokens = 10000

// validationCache remembers the principals of recently validated tokens,
// keyed by token hash, so that an API call costs no identity lookups. A
// revocation through this process removes its entry at once; a change made
// by another replica (revocation, disabled user or project) takes effect
// within the TTL.
type validationCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cachedPrincipal
}

type cachedPrincipal struct {
	p     Principal
	until time.Time
}

func newValidationCache(ttl time.Duration) *validationCache {
	return &validationCache{ttl: ttl, m: map[string]cachedPrincipal{}}
}

// get returns a copy of the cached principal of hash, if still valid at now.
func (c *validationCache) get(hash []byte, now time.Time) (*Principal, bool) {
	if c.ttl <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[string(hash)]
	if !ok {
		return nil, false
	}
	if !now.Before(e.until) {
		delete(c.m, string(hash))
		return nil, false
	}
	p := e.p
	p.Roles = append([]string(nil), e.p.Roles...)
	return &p, true
}

// put caches p for hash until the earlier of now+ttl and the token's expiry.
func (c *validationCache) put(hash []byte, p *Principal, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	until := now.Add(c.ttl)
	if p.ExpiresAt.Before(until) {
		until = p.ExpiresAt
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedTokens {
		clear(c.m)
	}
	c.m[string(hash)] = cachedPrincipal{p: *p, until: until}
}

// drop forgets hash (after a revocation).
func (c *validationCache) drop(hash []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, string(hash))
}

// dropIf forgets every cached principal for which match is true (after a
// user's, a project's or a role's change).
func (c *validationCache) dropIf(match func(*Principal) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if match(&e.p) {
			delete(c.m, k)
		}
	}
}
