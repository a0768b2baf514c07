package identity

import (
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/fault"
)

func FuzzDecodeV3AuthRequest(f *testing.F) {
	for _, seed := range []string{
		`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"secret"}}},"scope":{"project":{"name":"demo","domain":{"name":"Default"}}}}}`,
		`{"auth":{"identity":{"methods":["password"],"password":{"user":{"id":"u","password":"p"}}},"scope":"unscoped"}}`,
		`{"auth":{"identity":{"methods":["token"],"token":{"id":"t"}},"scope":{"project":{"id":"p"}}}}`,
		`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"a"}}},"scope":{"domain":{"id":"default"}}}}`,
		`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"a"}}},"scope":{"system":{"all":true}}}}`,
		`{"auth":{"identity":{"methods":[]}}}`,
		`{"auth":null}`,
		`[]`,
		``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		req, err := decodeV3AuthRequest(strings.NewReader(in))
		if err != nil {
			switch k := fault.KindOf(err); k {
			case fault.Invalid, fault.Unauthorized:
			default:
				t.Fatalf("decode(%q) error kind %v: %v", in, k, err)
			}
			if req != nil {
				t.Fatalf("decode(%q) returned a request with error %v", in, err)
			}
			return
		}
		switch req.Method {
		case methodPassword:
			if req.User.ID == "" && req.User.Name == "" {
				t.Fatalf("decode(%q): password request without a user", in)
			}
		case methodToken:
			if req.TokenID == "" {
				t.Fatalf("decode(%q): token request without a token", in)
			}
		default:
			t.Fatalf("decode(%q): method %q", in, req.Method)
		}
		if req.Unscoped && !req.Project.empty() {
			t.Fatalf("decode(%q): both unscoped and project-scoped", in)
		}
	})
}
