package identity

import (
	"net/url"
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

// checkDecodeErr fails unless err is nil or a client's mistake (400).
func checkDecodeErr(t *testing.T, in string, err error) {
	t.Helper()
	if err != nil && fault.KindOf(err) != fault.Invalid {
		t.Fatalf("decode(%q) error kind %v: %v", in, fault.KindOf(err), err)
	}
}

func FuzzDecodeProjectUpdate(f *testing.F) {
	for _, seed := range []string{
		`{"project":{"name":"p","description":"d","enabled":false,"domain_id":"default","tags":[],"options":{}}}`,
		`{"project":{"description":null}}`,
		`{"project":{"name":null}}`,
		`{"project":{"tags":["a"],"options":{"x":1}}}`,
		`{"project":{"owner":1}}`,
		`{"project":[]}`,
		`{"project":null}`,
		`[]`,
		``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		up, err := decodeProjectUpdate(strings.NewReader(in))
		checkDecodeErr(t, in, err)
		if err != nil && up != (ProjectUpdate{}) {
			t.Fatalf("decode(%q) returned a change with error %v", in, err)
		}
	})
}

func FuzzDecodeUserUpdate(f *testing.F) {
	for _, seed := range []string{
		`{"user":{"name":"u","password":"p","enabled":true,"domain_id":"default","options":{}}}`,
		`{"user":{"password":""}}`,
		`{"user":{"password":7}}`,
		`{"user":{"email":"a@b"}}`,
		`{"user":{"enabled":null}}`,
		`{"user":"x"}`,
		`null`,
		``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		up, err := decodeUserUpdate(strings.NewReader(in))
		checkDecodeErr(t, in, err)
		if err == nil && up.Password != nil && *up.Password == "" {
			t.Fatalf("decode(%q) accepted an empty password", in)
		}
	})
}

func FuzzDecodePasswordChange(f *testing.F) {
	for _, seed := range []string{
		`{"user":{"password":"new","original_password":"old"}}`,
		`{"user":{"password":"new"}}`,
		`{"user":{"password":"","original_password":"old"}}`,
		`{"user":{"password":"n","original_password":"o","id":"x"}}`,
		`{"user":{"password":null,"original_password":1}}`,
		`{}`,
		``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		pc, err := decodePasswordChange(strings.NewReader(in))
		checkDecodeErr(t, in, err)
		if err == nil && (pc.Password == "" || pc.Original == "") {
			t.Fatalf("decode(%q) = %+v: a password is empty", in, pc)
		}
	})
}

func FuzzParseAssignmentQuery(f *testing.F) {
	for _, seed := range []string{
		"user.id=u&scope.project.id=p&include_names=True",
		"role.id=Reader&effective=True",
		"group.id=g",
		"user.id=u&group.id=g",
		"scope.project.id=p&scope.domain.id=default",
		"scope.OS-INHERIT:inherited_to=projects",
		"user.id=&include_names=0",
		"%zz",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		q, _ := url.ParseQuery(in)
		aq, err := parseAssignmentQuery(q)
		checkDecodeErr(t, in, err)
		if err != nil {
			return
		}
		if q.Has("group.id") && !aq.None {
			t.Fatalf("parse(%q): a group filter can match", in)
		}
		if aq.Filter.Role != strings.ToLower(aq.Filter.Role) {
			t.Fatalf("parse(%q): role %q not lower case", in, aq.Filter.Role)
		}
	})
}

func FuzzDecodeProjectCreate(f *testing.F) {
	for _, seed := range []string{
		`{"project":{"name":"p","domain_id":"default","description":null,"enabled":true,"tags":[],"parent_id":"default","is_domain":false}}`,
		`{"project":{"name":"p","is_domain":true}}`,
		`{"project":{"name":"p","domain_id":"other"}}`,
		`{"project":{"name":null,"owner":1}}`,
		`{"project":{}}`,
		``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		pc, err := decodeProjectCreate(strings.NewReader(in))
		if err != nil && fault.KindOf(err) != fault.Invalid && fault.KindOf(err) != fault.NotFound {
			t.Fatalf("decode(%q) error kind %v: %v", in, fault.KindOf(err), err)
		}
		if err != nil && pc != (projectCreate{}) {
			t.Fatalf("decode(%q) returned a project with error %v", in, err)
		}
	})
}

func FuzzDecodeUserCreate(f *testing.F) {
	for _, seed := range []string{
		`{"user":{"name":"u","password":"p","enabled":true,"domain_id":"default","default_project_id":"x","options":{}}}`,
		`{"user":{"name":"u","password":""}}`,
		`{"user":{"name":"u","email":"e"}}`,
		`{"user":{"name":"u","password":"p","domain_id":"x"}}`,
		`{"user":[]}`,
		``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		uc, err := decodeUserCreate(strings.NewReader(in))
		if err != nil && fault.KindOf(err) != fault.Invalid && fault.KindOf(err) != fault.NotFound {
			t.Fatalf("decode(%q) error kind %v: %v", in, fault.KindOf(err), err)
		}
		if err == nil && (uc.Name == "" || uc.Password == "") {
			t.Fatalf("decode(%q) = %+v: no name or password", in, uc)
		}
	})
}
