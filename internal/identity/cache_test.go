package identity

import (
	"context"
	"testing"

	"github.com/hoard-db/hoard/internal/fault"
)

// TestValidationCache: a validated token is served from the cache (a
// change the store makes behind the service's back shows only after the
// cache TTL), while a revocation through the service takes effect at once.
func TestValidationCache(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok := f.login(t, "alice", "alicepw", "demo")
	if _, err := f.svc.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	// Remove the token from the store directly, as another replica's
	// revocation would.
	if err := f.st.DeleteToken(ctx, hashToken(tok)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, tok); err != nil {
		t.Errorf("Authenticate within the cache TTL = %v, want the cached principal", err)
	}
	f.clock.Advance(DefaultValidationCacheTTL)
	if _, err := f.svc.Authenticate(ctx, tok); fault.KindOf(err) != fault.Unauthorized {
		t.Errorf("Authenticate after the cache TTL = %v, want Unauthorized", err)
	}

	tok2 := f.login(t, "bob", "bobpw", "demo")
	if _, err := f.svc.Authenticate(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Revoke(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, tok2); fault.KindOf(err) != fault.Unauthorized {
		t.Errorf("Authenticate after Revoke = %v, want Unauthorized at once", err)
	}
}
