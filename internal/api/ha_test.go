package api

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/service"
)

func TestDecodeHACreate(t *testing.T) {
	const full = `{"ha": {"name": "g", "datastore": {"type": "mysql", "version": "10.11"},
		"replica_source": [{"name": "src", "flavorRef": "2", "volume": {"size": 1}}],
		"replicas": [{"name": "r1", "flavorRef": 2, "volume": {"size": "2"}}],
		"networks": ["servicenet", "public"], "acls": [{"address": "10.0.0.0/8"}], "configuration": "c1"}}`
	tests := []struct {
		name string
		in   string
		want service.CreateHARequest
		msg  string // "" = no error
	}{
		{name: "full", in: full, want: service.CreateHARequest{
			Name: "g", DatastoreType: "mysql", DatastoreVersion: "10.11",
			Source:   service.HAMemberRequest{Name: "src", FlavorRef: "2", VolumeSize: 1},
			Replicas: []service.HAMemberRequest{{Name: "r1", FlavorRef: "2", VolumeSize: 2}},
			Networks: []string{"servicenet", "public"}, ACLs: []string{"10.0.0.0/8"}, Configuration: "c1",
		}},
		{name: "no ha", in: `{}`, msg: "'ha' is a required property"},
		{name: "not an object", in: `{"ha": 3}`, msg: "ha must be an object"},
		{name: "unknown key", in: `{"ha": {"name": "g", "nics": []}}`, msg: "unknown property 'nics'"},
		{name: "no source", in: `{"ha": {"name": "g", "datastore": {"type": "mysql"}, "replicas": []}}`, msg: "'replica_source' is a required property"},
		{name: "two sources", in: `{"ha": {"name": "g", "datastore": {"type": "mysql"}, "replica_source": [{"flavorRef": "2", "volume": {"size": 1}}, {"flavorRef": "2", "volume": {"size": 1}}], "replicas": []}}`, msg: "exactly one instance"},
		{name: "no volume", in: `{"ha": {"name": "g", "datastore": {"type": "mysql"}, "replica_source": [{"flavorRef": "2"}], "replicas": []}}`, msg: "'volume' is a required property"},
		{name: "bad size", in: `{"ha": {"name": "g", "datastore": {"type": "mysql"}, "replica_source": [{"flavorRef": "2", "volume": {"size": -1}}], "replicas": []}}`, msg: "'size' must be a positive integer"},
		{name: "acl without address", in: `{"ha": {"name": "g", "datastore": {"type": "mysql"}, "replica_source": [{"flavorRef": "2", "volume": {"size": 1}}], "replicas": [], "acls": [{}]}}`, msg: "'address' is a required property"},
		{name: "no datastore", in: `{"ha": {"name": "g", "replica_source": [{"flavorRef": "2", "volume": {"size": 1}}], "replicas": []}}`, msg: "'datastore' is a required property"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeHACreate([]byte(tt.in))
			if tt.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				return
			}
			if fault.KindOf(err) != fault.Invalid || !strings.Contains(fault.Message(err), tt.msg) {
				t.Errorf("decodeHACreate(%s) = %v; want a 400 saying %q", tt.in, err, tt.msg)
			}
		})
	}
}

func TestDecodeHAAction(t *testing.T) {
	tests := []struct {
		in   string
		want service.HAAction
		msg  string
	}{
		{in: `{"restart": {}}`, want: service.HAAction{Restart: true}},
		{in: `{"resize_volumes": {"size": 4}}`, want: service.HAAction{ResizeVolumes: 4}},
		{in: `{"resize_flavor": "3"}`, want: service.HAAction{ResizeFlavor: "3"}},
		{in: `{"remove_replica": "abc"}`, want: service.HAAction{RemoveReplica: "abc"}},
		{in: `{"add_replica": {"replica_details": {"name": "r", "flavorRef": "2", "volume": {"size": 1}}}}`,
			want: service.HAAction{AddReplica: &service.HAMemberRequest{Name: "r", FlavorRef: "2", VolumeSize: 1}}},
		{in: `{"upgrade": {"datastore_type": "mysql", "datastore_version": "10.11"}}`,
			want: service.HAAction{Upgrade: &service.HAUpgrade{DatastoreType: "mysql", DatastoreVersion: "10.11"}}},
		{in: `{}`, msg: "exactly one action"},
		{in: `{"restart": {}, "resize_flavor": "3"}`, msg: "exactly one action"},
		{in: `{"reboot": {}}`, msg: "Unknown action 'reboot'"},
		{in: `{"restart": {"x": 1}}`, msg: "restart takes no arguments"},
		{in: `{"resize_volumes": {"size": 0}}`, msg: "resize_volumes must be"},
		{in: `{"remove_replica": ""}`, msg: "must name an instance"},
		{in: `{"add_replica": {"name": "r"}}`, msg: "'replica_details' alone"},
		{in: `{"upgrade": {}}`, msg: "'datastore_type' is a required property"},
	}
	for _, tt := range tests {
		got, err := decodeHAAction([]byte(tt.in))
		if tt.msg == "" {
			if err != nil {
				t.Errorf("decodeHAAction(%s): %v", tt.in, err)
			} else if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decodeHAAction(%s) (-want +got):\n%s", tt.in, diff)
			}
			continue
		}
		if fault.KindOf(err) != fault.Invalid || !strings.Contains(fault.Message(err), tt.msg) {
			t.Errorf("decodeHAAction(%s) = %v; want a 400 saying %q", tt.in, err, tt.msg)
		}
	}
}

func TestDecodeHAPatchAndACL(t *testing.T) {
	for in, want := range map[string]string{
		`{"ha_instance": {"configuration": "c1"}}`: "c1",
		`{"ha_instance": {"configuration": ""}}`:   "",
		`{"ha_instance": {"configuration": null}}`: "",
	} {
		if got, err := decodeHAPatch([]byte(in)); err != nil || got != want {
			t.Errorf("decodeHAPatch(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`{}`, `{"ha_instance": {}}`, `{"ha_instance": {"name": "x"}}`, `{"ha_instance": {"configuration": 3}}`} {
		if _, err := decodeHAPatch([]byte(in)); fault.KindOf(err) != fault.Invalid {
			t.Errorf("decodeHAPatch(%s) = %v; want a 400", in, err)
		}
	}
	if got, err := decodeHAACL([]byte(`{"address": "1.2.3.4/32"}`)); err != nil || got != "1.2.3.4/32" {
		t.Errorf("decodeHAACL = %q, %v", got, err)
	}
	for _, in := range []string{`{}`, `{"address": 1}`, `{"address": "x", "y": 1}`} {
		if _, err := decodeHAACL([]byte(in)); fault.KindOf(err) != fault.Invalid {
			t.Errorf("decodeHAACL(%s) = %v; want a 400", in, err)
		}
	}
	for in, want := range map[string]string{"10.0.0.0%25252F8": "10.0.0.0/8", "10.0.0.0%2F8": "10.0.0.0/8", "1.2.3.4": "1.2.3.4", "%zz": "%zz"} {
		if got := unescapeFully(in); got != want {
			t.Errorf("unescapeFully(%q) = %q; want %q", in, got, want)
		}
	}
}

// checkPublicInvalid fails unless err is nil or a 400 with a message.
func checkPublicInvalid(t *testing.T, what string, body []byte, err error) {
	t.Helper()
	if err != nil && (fault.KindOf(err) != fault.Invalid || fault.Message(err) == "") {
		t.Fatalf("%s(%q) error %v is not a public Invalid fault", what, body, err)
	}
}

func FuzzDecodeHACreate(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"ha":{}}`, `{"ha":{"name":"g","datastore":{"type":"mysql"},"replica_source":[{"flavorRef":"2","volume":{"size":1}}],"replicas":[{"flavorRef":2,"volume":{"size":1}}],"acls":[{"address":"1.2.3.4"}]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeHACreate(body)
		checkPublicInvalid(t, "decodeHACreate", body, err)
		if err == nil && req.Name == "" {
			t.Fatalf("decodeHACreate(%q) accepted a group without a name", body)
		}
	})
}

func FuzzDecodeHAAction(f *testing.F) {
	for _, s := range []string{``, `{"restart":{}}`, `{"resize_volumes":{"size":2}}`, `{"add_replica":{"replica_details":{"flavorRef":"2","volume":{"size":1}}}}`, `{"upgrade":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := decodeHAAction(body)
		checkPublicInvalid(t, "decodeHAAction", body, err)
		if err != nil {
			return
		}
		n := 0
		for _, set := range []bool{a.AddReplica != nil, a.RemoveReplica != "", a.ResizeVolumes != 0, a.ResizeFlavor != "", a.Restart, a.Upgrade != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("decodeHAAction(%q) = %+v: %d actions set, want 1", body, a, n)
		}
	})
}

func FuzzDecodeHAPatch(f *testing.F) {
	for _, s := range []string{``, `{"ha_instance":{"configuration":"c"}}`, `{"ha_instance":{"configuration":null}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := decodeHAPatch(body)
		checkPublicInvalid(t, "decodeHAPatch", body, err)
	})
}

func FuzzDecodeHAACL(f *testing.F) {
	for _, s := range []string{``, `{"address":"1.2.3.4/32"}`, `{"address":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := decodeHAACL(body)
		checkPublicInvalid(t, "decodeHAACL", body, err)
	})
}
