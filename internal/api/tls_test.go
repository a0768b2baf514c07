package api

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

const fakeCAPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

// InstanceCA implements Backend: the fake's CA, unless caOff.
func (f *fakeBackend) InstanceCA(ctx context.Context, tenantID, id string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(tenantID, id); err != nil {
		return nil, err
	}
	if f.caOff {
		return nil, fault.New(fault.NotImplemented, "fake", "instances of this service serve no TLS")
	}
	return []byte(fakeCAPEM), nil
}

func TestInstanceCA(t *testing.T) {
	h := newHarness(t, Config{})
	in := h.fb.add(tenant, "db", model.StatusActive)
	other := h.fb.add("OTHER", "theirs", model.StatusActive)
	base := "/v1.0/" + tenant + "/instances/"
	tests := []struct {
		name     string
		path     string
		accept   string
		caOff    bool
		status   int
		wantType string
		wantBody string
	}{
		{"json", base + in.ID + "/ca", "", false, 200, "application/json", ""},
		{"pem", base + in.ID + "/ca", "text/plain, application/x-pem-file;q=0.9", false, 200, "application/x-pem-file", fakeCAPEM},
		{"unknown instance", base + "nope/ca", "", false, 404, "application/json", ""},
		{"another tenant's instance", base + other.ID + "/ca", "", false, 404, "application/json", ""},
		{"no TLS", base + in.ID + "/ca", "", true, 501, "application/json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.fb.mu.Lock()
			h.fb.caOff = tt.caOff
			h.fb.mu.Unlock()
			r := h.do("GET", tt.path, "", "Accept", tt.accept)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != tt.wantType {
				t.Errorf("Content-Type %q, want %q", ct, tt.wantType)
			}
			if tt.wantBody != "" && r.body != tt.wantBody {
				t.Errorf("body %q, want %q", r.body, tt.wantBody)
			}
			if tt.status == 200 && tt.wantBody == "" {
				var v struct {
					CA struct {
						Certificate string `json:"certificate"`
					} `json:"ca"`
				}
				if err := json.Unmarshal([]byte(r.body), &v); err != nil || v.CA.Certificate != fakeCAPEM {
					t.Errorf("body %s (%v), want the CA in ca.certificate", r.body, err)
				}
			}
		})
	}
}
