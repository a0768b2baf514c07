package keystone

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/fault"
)

// FuzzValidationAnswer feeds arbitrary token documents, as Keystone's 200
// answer to a validation, to the client: it never panics, and either
// returns a principal with a user and an unexpired token or refuses with
// Unauthorized (expired) or Unavailable (a document it cannot read).
func FuzzValidationAnswer(f *testing.F) {
	f.Add(`{"token":{"expires_at":"2030-01-01T00:00:00.000000Z","user":{"id":"u","name":"n"},"project":{"id":"p","name":"q"},"roles":[{"name":"Member"}]}}`)
	f.Add(`{"token":{"expires_at":"2000-01-01T00:00:00Z","user":{"id":"u"}}}`)
	f.Add(`{"token":{"expires_at":"tomorrow","user":{"id":"u"}}}`)
	f.Add(`{"token":{"user":{"id":""},"roles":null,"project":null}}`)
	f.Add(`{"token":[]}`)
	f.Add(`null`)
	f.Add(``)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("X-Subject-Token", "svc")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"token":{"expires_at":"2030-01-01T00:00:00Z"}}`))
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	c, err := New(Config{URL: srv.URL, ServiceUser: "u", ServicePassword: "p", ServiceProject: "s", CacheTTL: -1,
		Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b string) {
		body = b // the fuzz function runs its inputs one at a time
		p, err := c.Authenticate(context.Background(), "some-token")
		if err != nil {
			if k := fault.KindOf(err); k != fault.Unavailable && k != fault.Unauthorized {
				t.Fatalf("err = %v (kind %v)", err, k)
			}
			return
		}
		if p.UserID == "" || !now.Before(p.ExpiresAt) {
			t.Fatalf("accepted %+v", p)
		}
	})
}
