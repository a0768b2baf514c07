package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// APIError is a fault answered by the API (or the identity service): its
// status and the message of its body, which is safe to show the user.
type APIError struct {
	Status  int
	Name    string // the fault name, e.g. "badRequest"
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("dashboard: api %d %s: %s", e.Status, e.Name, e.Message)
}

// recorder is a minimal in-memory http.ResponseWriter: the answer of the
// API handler to one in-process request.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// response is what call returns on success.
type response struct {
	status int
	header http.Header
	body   []byte
}

// call sends one request to the API handler in process, with token as
// X-Auth-Token (none if empty) and in as the JSON body (none if nil). A
// 2xx answer is decoded into out (if non-nil); anything else is an
// *APIError carrying the fault's message.
func (d *Dashboard) call(ctx context.Context, token, method, path string, in, out any) (*response, error) {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("dashboard: encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("dashboard: request %s %s: %w", method, path, err)
	}
	req.RequestURI = req.URL.RequestURI()
	req.RemoteAddr = remoteAddrFrom(ctx)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "hoard-dashboard")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	rec := &recorder{header: http.Header{}}
	d.api.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	resp := &response{status: rec.status, header: rec.header, body: rec.body.Bytes()}
	if rec.status < 200 || rec.status > 299 {
		return resp, decodeFault(rec.status, resp.body)
	}
	if out != nil && len(resp.body) > 0 {
		if err := json.Unmarshal(resp.body, out); err != nil {
			return resp, fmt.Errorf("dashboard: decode %s %s: %w", method, path, err)
		}
	}
	return resp, nil
}

// decodeFault reads a Trove fault body ({"badRequest": {"code": 400,
// "message": "..."}}) or a Keystone error body ({"error": {"code": 401,
// "message": "...", "title": "..."}}).
func decodeFault(status int, body []byte) error {
	e := &APIError{Status: status, Name: http.StatusText(status)}
	var m map[string]struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) == nil {
		for k, v := range m {
			e.Name, e.Message = k, v.Message
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// faultMessage is the text shown to the user for err: the API's own message
// for a fault, a generic sentence for anything else (never internal text).
func faultMessage(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Message
	}
	return "The dashboard could not complete the request; please try again."
}

// statusOf is the HTTP status a page answers with when err stopped it.
func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return http.StatusInternalServerError
}

type remoteAddrKey struct{}

func withRemoteAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteAddrKey{}, addr)
}

func remoteAddrFrom(ctx context.Context) string {
	if s, ok := ctx.Value(remoteAddrKey{}).(string); ok && s != "" {
		return s
	}
	return "127.0.0.1:0"
}

// tenantPath is the API path of a project's resource: /v1.0/{project}/rest.
func tenantPath(project, rest string) string {
	return "/v1.0/" + project + "/" + strings.TrimPrefix(rest, "/")
}
