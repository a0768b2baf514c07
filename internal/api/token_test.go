package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/identity"
)

// countingAuth counts the tokens it is asked about.
type countingAuth struct {
	fakeAuth
	calls atomic.Int32
}

func (a *countingAuth) Authenticate(ctx context.Context, token string) (*identity.Principal, error) {
	a.calls.Add(1)
	return a.fakeAuth.Authenticate(ctx, token)
}

const unauthorizedBody = `{"unauthorized":{"code":401,"message":"The request you have made requires authentication."}}` + "\n"

// TestMalformedTokenRefused: a token with a control byte, a space or
// non-ASCII that reaches the handlers is answered with the JSON fault 401
// unauthorized and never shown to the Authenticator.
func TestMalformedTokenRefused(t *testing.T) {
	auth := &countingAuth{fakeAuth: newFakeAuth()}
	srv := New(Config{}, newFakeBackend(time.Now), auth)
	for _, tok := range []string{
		"TO\tKEN", "TOKEN\t", "TO KEN", "TOK\x80EN", "TOK\xffEN", "TOK\u009bEN", "TOK\u202eEN", "TOKÉN",
		"TOK\x01EN", "TOK\x1bEN", "TOK\x7fEN", strings.Repeat("T", 257),
	} {
		req := httptest.NewRequest("GET", "http://db.example.com/v1.0/TENANT/instances", nil)
		req.Header["X-Auth-Token"] = []string{tok}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != 401 || rec.Body.String() != unauthorizedBody || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("token %q = %d %q %q, want 401 %s", tok, rec.Code, rec.Header().Get("Content-Type"), rec.Body, unauthorizedBody)
		}
	}
	if n := auth.calls.Load(); n != 0 {
		t.Errorf("Authenticate called %d times for malformed tokens, want 0", n)
	}
}

// TestTokenBytesOverTCP sends X-Auth-Token "ab<byte>cd" for every byte
// value over a real connection. net/http answers a header value holding a
// C0 control other than tab, or DEL, itself, with a plain-text
// "400 Bad Request", before any handler runs (httpguts.ValidHeaderFieldValue
// in net/http's readRequest); hoard cannot change that answer. Every other
// byte reaches hoard and gets the JSON fault.
func TestTokenBytesOverTCP(t *testing.T) {
	ts := httptest.NewServer(New(Config{}, newFakeBackend(time.Now), newFakeAuth()).Handler())
	t.Cleanup(ts.Close)
	addr := ts.Listener.Addr().String()
	for b := 0; b < 256; b++ {
		if b == '\r' || b == '\n' {
			continue // ends the header line: another request
		}
		status, ctype, body := rawGet(t, addr, "/v1.0/TENANT/instances", "ab"+string([]byte{byte(b)})+"cd")
		ctl := b < 0x20 && b != '\t' || b == 0x7f
		switch {
		case status == 401 && ctype == "application/json" && body == unauthorizedBody:
		case ctl && status == 400 && strings.HasPrefix(ctype, "text/plain") && body == "400 Bad Request":
			// net/http's own refusal, see above.
		default:
			t.Errorf("token byte %#02x = %d %q %q, want 401 %s", b, status, ctype, body, unauthorizedBody)
		}
	}
}

// rawGet sends a GET with the given X-Auth-Token bytes as they are.
func rawGet(t *testing.T, addr, path, token string) (status int, ctype, body string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: db.example.com\r\nX-Auth-Token: %s\r\nConnection: close\r\n\r\n", path, token)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("token %q: %v", token, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}
