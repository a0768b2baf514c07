package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/safetext"
)

// hostileTexts are names that would rewrite a terminal or reorder what a
// reader sees: NUL, ESC, DEL, C1 and every kind of bidi control.
var hostileTexts = []string{
	"a\u0000b\u202e\u001b[31m", "db\u001b]0;pwned\u0007", "db\u007f", "db\u0085", "db\u009b2J", "db\ttab",
	"db\u202agpj", "db\u202dx", "db\u2066x", "db\u2069", "db\u200ex", "db\u200fx", "db\u061cx",
}

// TestUnsafeTextRefused sends a hostile text in every name and description
// a request body can carry: each decoder refuses it with fault.Invalid naming
// the field.
func TestUnsafeTextRefused(t *testing.T) {
	type decoder func([]byte) error
	create := func(b []byte) error { _, err := decodeCreate(b); return err }
	update := func(b []byte) error { _, err := decodeUpdate(b); return err }
	backup := func(b []byte) error { _, err := decodeBackupCreate(b); return err }
	cfgCreate := func(b []byte) error { _, err := decodeConfigurationCreate(b); return err }
	cfgPut := func(b []byte) error { _, err := decodeConfigurationUpdate(b, true); return err }
	cfgPatch := func(b []byte) error { _, err := decodeConfigurationUpdate(b, false); return err }
	dbCreate := func(b []byte) error { _, err := decodeDatabaseCreate(b); return err }
	userCreate := func(b []byte) error { _, err := decodeUserCreate(b); return err }
	passwords := func(b []byte) error { _, err := decodePasswords(b); return err }
	userUpdate := func(b []byte) error { _, err := decodeUserUpdate(b); return err }
	grant := func(b []byte) error { _, err := decodeGrant(b); return err }
	const uuid = "5f3c9d3e-8a1b-4c2d-9e0f-123456789abc"
	tests := []struct {
		name   string
		decode decoder
		body   string // %s is the JSON string of the hostile text
		path   string // the field named in the message
	}{
		{"instance create name", create, `{"instance":{"name":%s,"flavorRef":1,"volume":{"size":1}}}`, "instance 'name'"},
		{"instance create database", create, `{"instance":{"name":"db","flavorRef":1,"volume":{"size":1},"databases":[{"name":%s}]}}`, "instance 'databases'[0] 'name'"},
		{"instance create database charset", create, `{"instance":{"name":"db","flavorRef":1,"volume":{"size":1},"databases":[{"name":"a","character_set":%s}]}}`, "'character_set'"},
		{"instance create user", create, `{"instance":{"name":"db","flavorRef":1,"volume":{"size":1},"users":[{"name":%s,"password":"pw"}]}}`, "instance 'users'[0] 'name'"},
		{"instance create user host", create, `{"instance":{"name":"db","flavorRef":1,"volume":{"size":1},"users":[{"name":"u","password":"pw","host":%s}]}}`, "instance 'users'[0] 'host'"},
		{"instance create user database", create, `{"instance":{"name":"db","flavorRef":1,"volume":{"size":1},"users":[{"name":"u","password":"pw","databases":[{"name":%s}]}]}}`, "'databases'[0] 'name'"},
		{"instance rename", update, `{"instance":{"name":%s}}`, "instance 'name'"},
		{"backup name", backup, `{"backup":{"name":%s,"instance":"` + uuid + `"}}`, "backup 'name'"},
		{"backup description", backup, `{"backup":{"name":"b","instance":"` + uuid + `","description":%s}}`, "backup 'description'"},
		{"configuration create name", cfgCreate, `{"configuration":{"name":%s,"values":{}}}`, "configuration 'name'"},
		{"configuration create description", cfgCreate, `{"configuration":{"name":"c","description":%s,"values":{}}}`, "configuration 'description'"},
		{"configuration put name", cfgPut, `{"configuration":{"name":%s,"values":{}}}`, "configuration 'name'"},
		{"configuration patch description", cfgPatch, `{"configuration":{"description":%s}}`, "configuration 'description'"},
		{"database create", dbCreate, `{"databases":[{"name":"ok"},{"name":%s}]}`, "databases[1] 'name'"},
		{"database collate", dbCreate, `{"databases":[{"name":"ok","collate":%s}]}`, "databases[0] 'collate'"},
		{"user create name", userCreate, `{"users":[{"name":%s,"password":"pw"}]}`, "users[0] 'name'"},
		{"user create host", userCreate, `{"users":[{"name":"u","password":"pw","host":%s}]}`, "users[0] 'host'"},
		{"user create database", userCreate, `{"users":[{"name":"u","password":"pw","databases":[{"name":%s}]}]}`, "users[0] 'databases'[0] 'name'"},
		{"user passwords name", passwords, `{"users":[{"name":%s,"password":"pw"}]}`, "users[0] 'name'"},
		{"user update name", userUpdate, `{"user":{"name":%s}}`, "user 'name'"},
		{"user update host", userUpdate, `{"user":{"host":%s}}`, "user 'host'"},
		{"grant", grant, `{"databases":[{"name":%s}]}`, "databases[0] 'name'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range hostileTexts {
				q, _ := json.Marshal(s)
				body := fmt.Sprintf(tt.body, q)
				err := tt.decode([]byte(body))
				msg := fault.Message(err)
				if fault.KindOf(err) != fault.Invalid || !strings.Contains(msg, tt.path+" must not contain control or bidirectional formatting characters") {
					t.Errorf("decode(%s) = %v, want Invalid naming %s", body, err, tt.path)
				}
				if safetext.Check(msg) != nil {
					t.Errorf("decode(%s) message %q echoes the character", body, msg)
				}
			}
		})
	}
}

// TestUnusualTextAccepted: text that is merely unusual (accents, emoji,
// zero-width joiners, a backslash) is a valid name.
func TestUnusualTextAccepted(t *testing.T) {
	for _, s := range []string{"café", "db 🙂", "a\u200db", `back\slash`, "日本語db", "db-1_x.y"} {
		q, _ := json.Marshal(s)
		if _, err := decodeCreate(fmt.Appendf(nil, `{"instance":{"name":%s,"flavorRef":1,"volume":{"size":1}}}`, q)); err != nil {
			t.Errorf("decodeCreate(name %q) = %v", s, err)
		}
		if _, err := decodeBackupCreate(fmt.Appendf(nil, `{"backup":{"name":%s,"description":%s,"instance":"5f3c9d3e-8a1b-4c2d-9e0f-123456789abc"}}`, q, q)); err != nil {
			t.Errorf("decodeBackupCreate(name %q) = %v", s, err)
		}
	}
}

// TestUnsafeNamesOverHTTP is the reported case: create, PUT and PATCH with
// "a\u0000b\u202e\u001b[31m" answer 400 badRequest and change nothing.
func TestUnsafeNamesOverHTTP(t *testing.T) {
	h := newHarness(t, Config{})
	in := h.fb.add(tenant, "db", model.StatusActive)
	const name = `"a\u0000b\u202e\u001b[31m"`
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1.0/TENANT/instances", `{"instance":{"name":` + name + `,"flavorRef":1,"volume":{"size":1}}}`},
		{"PUT", "/v1.0/TENANT/instances/" + in.ID, `{"instance":{"name":` + name + `}}`},
		{"PATCH", "/v1.0/TENANT/instances/" + in.ID, `{"instance":{"name":` + name + `}}`},
	} {
		r := h.do(c.method, c.path, c.body)
		if r.status != 400 || !strings.Contains(r.body, `"badRequest"`) || !strings.Contains(r.body, "U+0000") {
			t.Errorf("%s %s = %d %s, want 400 badRequest naming U+0000", c.method, c.path, r.status, r.body)
		}
	}
	if got, _ := h.fb.lookup(tenant, in.ID); got.Name != "db" {
		t.Errorf("instance renamed to %q", got.Name)
	}
}
