package api

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/service"
)

func TestDecodeCreate(t *testing.T) {
	base := func(extra string) string {
		return `{"instance":{"name":"db","flavorRef":1,"volume":{"size":1}` + extra + `}}`
	}
	tests := []struct {
		name string
		in   string
		want service.CreateInstanceRequest
		kind fault.Kind // Internal = no error expected
		msg  string
	}{
		{name: "minimal int flavor", in: base(""), want: service.CreateInstanceRequest{Name: "db", FlavorRef: "1", VolumeSize: 1}},
		{name: "string flavor", in: `{"instance":{"name":"db","flavorRef":"7","volume":{"size":"3"}}}`,
			want: service.CreateInstanceRequest{Name: "db", FlavorRef: "7", VolumeSize: 3}},
		{name: "href flavor", in: `{"instance":{"name":"db","flavorRef":"https://h/v1.0/1234/flavors/2/","volume":{"size":1}}}`,
			want: service.CreateInstanceRequest{Name: "db", FlavorRef: "2", VolumeSize: 1}},
		{name: "extras ignored", in: `{"x":1,"instance":{"name":"db","flavorRef":1,"volume":{"size":1,"type":"ssd"},"access":{"is_public":false,"allowed_cidrs":[]},` +
			`"nics":[],"availability_zone":"a","locality":"affinity","modules":[],"region_name":"r","unknown":[1],"configuration":""}}`,
			want: service.CreateInstanceRequest{Name: "db", FlavorRef: "1", VolumeSize: 1, Access: true}},
		{name: "allowed cidrs", in: base(`,"access":{"is_public":false,"allowed_cidrs":["10.1.2.3/8"," 127.0.0.2","2001:DB8::1/32","::ffff:10.0.0.1/128","fe80::1","10.0.0.0/8"]}`),
			want: service.CreateInstanceRequest{Name: "db", FlavorRef: "1", VolumeSize: 1, Access: true,
				AllowedCIDRs: []string{"10.0.0.0/8", "127.0.0.2/32", "2001:db8::/32", "10.0.0.1/32", "fe80::1/128"}}},
		{name: "allowed cidrs everywhere", in: base(`,"access":{"allowed_cidrs":["0.0.0.0/0","::/0"]}`),
			want: service.CreateInstanceRequest{Name: "db", FlavorRef: "1", VolumeSize: 1, Access: true, AllowedCIDRs: []string{"0.0.0.0/0", "::/0"}}},
		{name: "allowed cidrs null", in: base(`,"access":{"allowed_cidrs":null}`),
			want: service.CreateInstanceRequest{Name: "db", FlavorRef: "1", VolumeSize: 1, Access: true}},
		{name: "cidr bad prefix", in: base(`,"access":{"allowed_cidrs":["10.0.0.0/8","10.0.0.0/33"]}`), kind: fault.Invalid,
			msg: "instance 'access' 'allowed_cidrs'[1] '10.0.0.0/33' is not an IPv4 or IPv6 network"},
		{name: "cidr host name", in: base(`,"access":{"allowed_cidrs":["db.example.com"]}`), kind: fault.Invalid, msg: "[0] 'db.example.com' is not"},
		{name: "cidr empty", in: base(`,"access":{"allowed_cidrs":[""]}`), kind: fault.Invalid, msg: "[0] '' is not"},
		{name: "cidr zone", in: base(`,"access":{"allowed_cidrs":["fe80::1%eth0"]}`), kind: fault.Invalid, msg: "'fe80::1%eth0' is not"},
		{name: "cidr escaped", in: base(`,"access":{"allowed_cidrs":["\u001b[2J"]}`), kind: fault.Invalid, msg: `'\x1b[2J' is not`},
		{name: "cidr number", in: base(`,"access":{"allowed_cidrs":[10]}`), kind: fault.Invalid, msg: "'allowed_cidrs'[0] must be a string"},
		{name: "cidrs not list", in: base(`,"access":{"allowed_cidrs":"10.0.0.0/8"}`), kind: fault.Invalid, msg: "'allowed_cidrs' must be a list of strings"},
		{name: "too many cidrs", in: base(`,"access":{"allowed_cidrs":[` + strings.Repeat(`"10.0.0.1",`, 32) + `"10.0.0.2"]}`), kind: fault.Invalid,
			msg: "may list at most 32 networks (got 33)"},
		{name: "public not bool", in: base(`,"access":{"is_public":"no"}`), kind: fault.Invalid, msg: "'is_public' must be a boolean"},
		{name: "public with cidrs refused", in: base(`,"access":{"is_public":true,"allowed_cidrs":["10.0.0.0/8"]}`), kind: fault.NotImplemented, msg: "Public instances are not implemented"},
		{name: "replica with access", in: `{"instance":{"name":"r","replica_of":"a-1","access":{"allowed_cidrs":["127.0.0.2"]}}}`,
			want: service.CreateInstanceRequest{Name: "r", ReplicaOf: "a-1", Access: true, AllowedCIDRs: []string{"127.0.0.2/32"}}},
		{name: "public refused", in: base(`,"access":{"is_public":true}`), kind: fault.NotImplemented, msg: "Public instances are not implemented"},
		{name: "access not object", in: base(`,"access":"open"`), kind: fault.Invalid, msg: "instance 'access' must be an object"},
		{name: "unknown module", in: base(`,"modules":[{"id":"m-1"}]`), kind: fault.Invalid, msg: "Module with ID m-1 could not be found: hoard has no modules."},
		{name: "module without id", in: base(`,"modules":[{}]`), kind: fault.Invalid, msg: "instance 'modules' must be a list of objects with an 'id'"},
		{name: "modules not list", in: base(`,"modules":{"id":"m"}`), kind: fault.Invalid, msg: "instance 'modules' must be a list"},
		{name: "null modules", in: base(`,"modules":null`), want: service.CreateInstanceRequest{Name: "db", FlavorRef: "1", VolumeSize: 1}},
		{name: "nic network", in: base(`,"nics":[{"net-id":"a9832168-7541-4536-b8d9-a8a9b79cf1b4"}]`), kind: fault.Invalid,
			msg: "Network interfaces cannot be chosen (instance 'nics' 'net-id' given)"},
		{name: "nic fixed address", in: base(`,"nics":[{"v4-fixed-ip":"127.0.1.9"}]`), kind: fault.Invalid, msg: "'nics' 'v4-fixed-ip' given"},
		{name: "nic Trove HEAD keys", in: base(`,"nics":[{"network_id":null,"subnet_id":"s","ip_address":"10.0.0.2"}]`), kind: fault.Invalid, msg: "'nics' 'ip_address' given"},
		{name: "nic port", in: base(`,"nics":[{},{"port-id":"p"}]`), kind: fault.Invalid, msg: "'nics' 'port-id' given"},
		{name: "nic unknown key escaped", in: base(`,"nics":[{"x\u001b[2J":1}]`), kind: fault.Invalid, msg: `'nics' 'x\x1b[2J' given`},
		{name: "empty nics", in: base(`,"nics":[{},{"net-id":null}]`), want: service.CreateInstanceRequest{Name: "db", FlavorRef: "1", VolumeSize: 1}},
		{name: "nics not list", in: base(`,"nics":{"net-id":"n"}`), kind: fault.Invalid, msg: "instance 'nics' must be a list of objects"},
		{name: "nic not object", in: base(`,"nics":["n"]`), kind: fault.Invalid, msg: "instance 'nics' must be a list of objects"},
		{name: "nic null", in: base(`,"nics":[null]`), kind: fault.Invalid, msg: "instance 'nics' must be a list of objects"},
		{name: "users and databases", in: base(`,"databases":[{"name":"a","collate":"c"}],"users":[{"name":"u","password":"p","host":"10.%","databases":[{"name":"a"}]},{"name":"v","password":"q"}],"datastore":{"type":"mysql"}`),
			want: service.CreateInstanceRequest{Name: "db", FlavorRef: "1", VolumeSize: 1, DatastoreType: "mysql",
				Databases: []datastore.Database{{Name: "a", Collate: "c"}},
				Users: []datastore.User{{Name: "u", Password: "p", Host: "10.%", Databases: []string{"a"}},
					{Name: "v", Password: "q", Host: "%"}}}},
		{name: "empty body", in: ``, kind: fault.Invalid, msg: "'instance' is a required property"},
		{name: "null body", in: `null`, kind: fault.Invalid, msg: "Malformed"},
		{name: "array body", in: `[]`, kind: fault.Invalid, msg: "Malformed request body"},
		{name: "trailing garbage", in: base("") + `x`, kind: fault.Invalid, msg: "Malformed request body"},
		{name: "instance not object", in: `{"instance":"x"}`, kind: fault.Invalid, msg: "instance must be an object"},
		{name: "missing all", in: `{"instance":{}}`, kind: fault.Invalid, msg: "'name' is a required property; instance 'flavorRef' is a required property; instance 'volume' is a required property"},
		{name: "long name", in: `{"instance":{"name":"` + strings.Repeat("a", 256) + `","flavorRef":1,"volume":{"size":1}}}`, kind: fault.Invalid, msg: "at most 255"},
		{name: "name number", in: `{"instance":{"name":5,"flavorRef":1,"volume":{"size":1}}}`, kind: fault.Invalid, msg: "'name' must be a string"},
		{name: "float flavor", in: `{"instance":{"name":"d","flavorRef":1.5,"volume":{"size":1}}}`, kind: fault.Invalid, msg: "flavorRef"},
		{name: "negative flavor", in: `{"instance":{"name":"d","flavorRef":-1,"volume":{"size":1}}}`, kind: fault.Invalid, msg: "flavorRef"},
		{name: "empty flavor", in: `{"instance":{"name":"d","flavorRef":"","volume":{"size":1}}}`, kind: fault.Invalid, msg: "flavorRef"},
		{name: "size zero", in: `{"instance":{"name":"d","flavorRef":1,"volume":{"size":0}}}`, kind: fault.Invalid, msg: "'size' must be an integer of at least 1"},
		{name: "size string", in: `{"instance":{"name":"d","flavorRef":1,"volume":{"size":"big"}}}`, kind: fault.Invalid, msg: "'size'"},
		{name: "size missing", in: `{"instance":{"name":"d","flavorRef":1,"volume":{}}}`, kind: fault.Invalid, msg: "'size' is a required property"},
		{name: "size huge", in: `{"instance":{"name":"d","flavorRef":1,"volume":{"size":99999999999999999999999}}}`, kind: fault.Invalid, msg: "'size'"},
		{name: "volume type number", in: base(`,"volume":{"size":1,"type":3}`), kind: fault.Invalid, msg: "'type' must be a string"},
		{name: "bad locality", in: base(`,"locality":"near"`), kind: fault.Invalid, msg: "Invalid locality 'near'"},
		{name: "user without password", in: base(`,"users":[{"name":"u"}]`), kind: fault.Invalid, msg: "'users'[0] 'password' is a required property"},
		{name: "users not list", in: base(`,"users":{}`), kind: fault.Invalid, msg: "'users' must be a list"},
		{name: "database not object", in: base(`,"databases":["a"]`), kind: fault.Invalid, msg: "'databases'[0] must be an object"},
		{name: "datastore not object", in: base(`,"datastore":"mysql"`), kind: fault.Invalid, msg: "'datastore' must be an object"},
		{name: "restore bad ref", in: base(`,"restorePoint":{"backupRef":"b"}`), kind: fault.Invalid, msg: "not a valid UUID"},
		{name: "restore no ref", in: base(`,"restorePoint":{}`), kind: fault.Invalid, msg: "'backupRef' is a required property"},
		{name: "replica count without source", in: base(`,"replica_count":2`), kind: fault.Invalid, msg: "'replica_count' is only allowed with 'replica_of'"},
		{name: "replica, Trove form", in: `{"instance":{"name":"r","replica_of":"a-1","replica_count":"2"}}`,
			want: service.CreateInstanceRequest{Name: "r", ReplicaOf: "a-1", ReplicaCount: 2}},
		{name: "replica, Rackspace form", in: base(`,"replica_of":"a-1"`),
			want: service.CreateInstanceRequest{Name: "db", FlavorRef: "1", VolumeSize: 1, ReplicaOf: "a-1"}},
		{name: "replica, slave_of", in: `{"instance":{"name":"r","slave_of":"a-1"}}`, want: service.CreateInstanceRequest{Name: "r", ReplicaOf: "a-1"}},
		{name: "replica_of and slave_of differ", in: `{"instance":{"name":"r","slave_of":"a-1","replica_of":"b"}}`, kind: fault.Invalid, msg: "name different instances"},
		{name: "replica_of not an id", in: `{"instance":{"name":"r","replica_of":"a/../b"}}`, kind: fault.Invalid, msg: "'replica_of' must be an instance id"},
		{name: "replica_of number", in: `{"instance":{"name":"r","replica_of":5}}`, kind: fault.Invalid, msg: "'replica_of' must be a string"},
		{name: "replica count zero", in: `{"instance":{"name":"r","replica_of":"a","replica_count":0}}`, kind: fault.Invalid, msg: "'replica_count' must be an integer of at least 1"},
		{name: "no flavor without replica_of", in: `{"instance":{"name":"r","volume":{"size":1}}}`, kind: fault.Invalid, msg: "'flavorRef' is a required property"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeCreate([]byte(tt.in))
			if tt.kind == fault.Internal {
				if err != nil {
					t.Fatalf("decodeCreate(%s) error %v", tt.in, err)
				}
				// The unexported fields are the service's own (never decoded).
				if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(service.CreateInstanceRequest{})); diff != "" {
					t.Errorf("decodeCreate(%s) (-want +got):\n%s", tt.in, diff)
				}
				return
			}
			if fault.KindOf(err) != tt.kind || !strings.Contains(fault.Message(err), tt.msg) {
				t.Errorf("decodeCreate(%s) = %v (%v), want %v containing %q", tt.in, err, fault.KindOf(err), tt.kind, tt.msg)
			}
		})
	}
}

func TestDecodeAction(t *testing.T) {
	tests := []struct {
		in, want string
		msg      string // error message substring; "" = success
	}{
		{`{"restart":{}}`, "restart", ""},
		{` {"restart": {}} `, "restart", ""},
		{`{"resize":{"flavorRef":"2"}}`, "resize", ""},
		{`{"resize":{"volume":{"size":4}}}`, "resize", ""},
		{`{"promote_to_replica_source":{}}`, "promote_to_replica_source", ""},
		{`{"eject_replica_source":{}}`, "eject_replica_source", ""},
		{`{"reset_status":{"force_delete":true}}`, "reset_status", ""},
		{``, "", "No action given"},
		{`{}`, "", "No action given"},
		{`null`, "", "Malformed"},
		{`[]`, "", "Malformed"},
		{`{"restart":{}`, "", "Malformed"},
		{`{"restart":{},"resize":{}}`, "", "Only one action may be given per request (got resize, restart)."},
		{`{"restart":null}`, "", "must be an object"},
		{`{"restart":[]}`, "", "must be an object"},
		{`{"restart":"now"}`, "", "must be an object"},
		{`{"restart":{"delay":1}}`, "", "takes no arguments"},
		{`{"Restart":{}}`, "", "Unknown action 'Restart'"},
		{`{"stop":{}}`, "", "Unknown action 'stop'"},
	}
	for _, tt := range tests {
		got, err := decodeAction([]byte(tt.in))
		if tt.msg == "" {
			if err != nil || got != tt.want {
				t.Errorf("decodeAction(%s) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
			continue
		}
		if fault.KindOf(err) != fault.Invalid || !strings.Contains(fault.Message(err), tt.msg) {
			t.Errorf("decodeAction(%s) = %q, %v, want Invalid containing %q", tt.in, got, err, tt.msg)
		}
	}
}

func TestDecodeUpdate(t *testing.T) {
	tests := []struct {
		in   string
		want instanceUpdate
		kind fault.Kind
	}{
		{`{"instance":{}}`, instanceUpdate{Detach: true}, fault.Internal},
		{`{"instance":{"name":"new"}}`, instanceUpdate{Name: "new", Rename: true}, fault.Internal},
		{`{"instance":{"name":""}}`, instanceUpdate{}, fault.Invalid},
		{`{"instance":{"name":7}}`, instanceUpdate{}, fault.Invalid},
		{`{"instance":{"bogus":1}}`, instanceUpdate{}, fault.Invalid},
		{`{"instance":null}`, instanceUpdate{}, fault.Invalid},
		{`{}`, instanceUpdate{}, fault.Invalid},
		{`{"instance":{"configuration":"c"}}`, instanceUpdate{Configuration: "c"}, fault.Internal},
		{`{"instance":{"configuration":"https://h/v1.0/t/configurations/c"}}`, instanceUpdate{Configuration: "c"}, fault.Internal},
		{`{"instance":{"configuration":null}}`, instanceUpdate{Detach: true}, fault.Internal},
		{`{"instance":{"configuration":""}}`, instanceUpdate{Detach: true}, fault.Internal},
		{`{"instance":{"configuration":7}}`, instanceUpdate{}, fault.Invalid},
		{`{"instance":{"name":"n","replica_of":""}}`, instanceUpdate{}, fault.Invalid},
		{`{"instance":{"replica_of":null}}`, instanceUpdate{DetachReplica: true}, fault.Internal},
		{`{"instance":{"slave_of":null}}`, instanceUpdate{DetachReplica: true}, fault.Internal},
		{`{"instance":{"configuration":null,"replica_of":null}}`, instanceUpdate{Detach: true, DetachReplica: true}, fault.Internal},
		{`{"instance":{"slave_of":null,"replica_of":null,"rm_master_replica_config":true}}`, instanceUpdate{DetachReplica: true}, fault.Internal},
		{`{"instance":{"replica_of":null,"rm_master_replica_config":"yes"}}`, instanceUpdate{}, fault.Invalid},
		{`{"instance":{"name":"n","replica_of":null}}`, instanceUpdate{Name: "n", Rename: true, DetachReplica: true}, fault.Internal},
		{`{"instance":{"datastore_version":"x"}}`, instanceUpdate{}, fault.NotImplemented},
		{`{"instance":{"access":{"is_public":false,"allowed_cidrs":["127.0.0.3","10.0.0.0/8"]}}}`,
			instanceUpdate{Access: true, AllowedCIDRs: []string{"127.0.0.3/32", "10.0.0.0/8"}}, fault.Internal},
		{`{"instance":{"access":{"allowed_cidrs":[]}}}`, instanceUpdate{Access: true}, fault.Internal},
		{`{"instance":{"access":{}}}`, instanceUpdate{Access: true}, fault.Internal},
		{`{"instance":{"name":"n","access":{"allowed_cidrs":["::1"]}}}`,
			instanceUpdate{Name: "n", Rename: true, Access: true, AllowedCIDRs: []string{"::1/128"}}, fault.Internal},
		{`{"instance":{"access":null}}`, instanceUpdate{}, fault.Invalid},
		{`{"instance":{"access":{"allowed_cidrs":["10.0.0.300"]}}}`, instanceUpdate{}, fault.Invalid},
		{`{"instance":{"access":{"is_public":true}}}`, instanceUpdate{}, fault.NotImplemented},
		{`{"instance":{"access":{},"configuration":"c"}}`, instanceUpdate{}, fault.Invalid},
		{`{"instance":{"access":{},"replica_of":null}}`, instanceUpdate{}, fault.Invalid},
		{`{"instance":{"access":{},"bogus":1}}`, instanceUpdate{}, fault.Invalid},
	}
	for _, tt := range tests {
		got, err := decodeUpdate([]byte(tt.in))
		if tt.kind == fault.Internal {
			if err != nil || !cmp.Equal(got, tt.want) {
				t.Errorf("decodeUpdate(%s) = %+v, %v, want %+v", tt.in, got, err, tt.want)
			}
			continue
		}
		if fault.KindOf(err) != tt.kind || err == nil {
			t.Errorf("decodeUpdate(%s) = %v, want kind %v", tt.in, err, tt.kind)
		}
	}
}

func FuzzDecodeCreate(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `{"instance":{}}`,
		`{"instance":{"name":"db","flavorRef":1,"volume":{"size":1}}}`,
		`{"instance":{"name":"db","flavorRef":"https://h/flavors/2","volume":{"size":"2","type":null},"datastore":{"type":"mysql","version":"10.11"}}}`,
		`{"instance":{"name":"d","flavorRef":"1","volume":{"size":1},"databases":[{"name":"a"}],"users":[{"name":"u","password":"p","databases":[{"name":"a"}]}]}}`,
		`{"instance":{"name":"d","flavorRef":"1","volume":{"size":1},"locality":"x","replica_of":"r"}}`,
		`{"instance":{"name":"d","flavorRef":"1","volume":{"size":1},"nics":[{"net-id":"n","v4-fixed-ip":"1.2.3.4"}],"modules":[{"id":"m"}]}}`,
		`{"instance":{"name":"d","flavorRef":"1","volume":{"size":1},"nics":[{},null],"modules":[{}],"access":{"is_public":false}}}`,
		`{"instance":{"name":"d","flavorRef":"1","volume":{"size":1},"access":{"is_public":false,"allowed_cidrs":["127.0.0.2","10.0.0.0/8","::1/128"]}}}`,
		`{"instance":{"name":"r","replica_of":"a","access":{"allowed_cidrs":["10.0.0.0/33","x",null,1]}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeCreate(body)
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid && k != fault.NotImplemented {
				t.Fatalf("decodeCreate(%q) error of kind %v: %v", body, k, err)
			}
			if fault.Message(err) == "" {
				t.Fatalf("decodeCreate(%q) error without a public message", body)
			}
			return
		}
		if req.Name == "" || req.FlavorRef == "" || req.VolumeSize < 1 || strings.Contains(req.FlavorRef, "/") {
			t.Fatalf("decodeCreate(%q) accepted %+v", body, req)
		}
		for _, u := range req.Users {
			if u.Host == "" || u.Name == "" || u.Password == "" {
				t.Fatalf("decodeCreate(%q) accepted user %+v", body, u)
			}
		}
		checkCIDRs(t, body, req.Access, req.AllowedCIDRs)
	})
}

// checkCIDRs fails unless cidrs, decoded from body, are at most
// model.MaxAllowedCIDRs canonical prefixes without repeats, and none were
// decoded without access.
func checkCIDRs(t *testing.T, body []byte, access bool, cidrs []string) {
	t.Helper()
	if !access && cidrs != nil || len(cidrs) > model.MaxAllowedCIDRs {
		t.Fatalf("decode(%q) accepted access %v with %d networks", body, access, len(cidrs))
	}
	for i, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil || p.Masked().String() != c || slices.Contains(cidrs[:i], c) {
			t.Fatalf("decode(%q) accepted network %q (not canonical, or repeated)", body, c)
		}
	}
}

func FuzzDecodeAction(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"restart":{}}`, `{"restart":{"a":1}}`, `{"resize":{"volume":{"size":4}}}`, `{"a":1,"b":2}`, `[1]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		action, err := decodeAction(body)
		if err != nil {
			if fault.KindOf(err) != fault.Invalid || fault.Message(err) == "" {
				t.Fatalf("decodeAction(%q) error %v is not a public Invalid fault", body, err)
			}
			return
		}
		if action != actionRestart && action != actionPromote && action != actionEject && !slices.Contains(notImplementedActions, action) {
			t.Fatalf("decodeAction(%q) = unknown action %q", body, action)
		}
	})
}

func FuzzDecodeUpdate(f *testing.F) {
	for _, s := range []string{``, `{"instance":{}}`, `{"instance":{"name":"x"}}`, `{"instance":{"configuration":"c"}}`,
		`{"instance":{"name":"x","access":{"is_public":false,"allowed_cidrs":["127.0.0.3/32","2001:db8::/32"]}}}`,
		`{"instance":{"access":{"allowed_cidrs":["127.0.0.3/33"]},"configuration":"c"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := decodeUpdate(body)
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid && k != fault.NotImplemented {
				t.Fatalf("decodeUpdate(%q) error of kind %v", body, k)
			}
			return
		}
		if u.Rename && u.Name == "" {
			t.Fatalf("decodeUpdate(%q) renames to an empty name", body)
		}
		if u.Access && (u.Detach || u.Configuration != "" || u.DetachReplica) {
			t.Fatalf("decodeUpdate(%q) = %+v: access with another attribute", body, u)
		}
		checkCIDRs(t, body, u.Access, u.AllowedCIDRs)
	})
}
