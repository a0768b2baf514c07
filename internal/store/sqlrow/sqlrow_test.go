package sqlrow

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

func TestGate(t *testing.T) {
	inst := &model.Instance{ID: "i", Status: model.StatusActive}
	allowed := []model.InstanceStatus{model.StatusActive}
	boom := errors.New("boom")
	tests := []struct {
		name       string
		allowed    []model.InstanceStatus
		busy       bool
		err        error
		wantState  bool
		wantErr    error
		wantCalled bool
	}{
		{name: "ready", allowed: allowed, wantCalled: true},
		{name: "status not allowed", allowed: []model.InstanceStatus{model.StatusBuild}, wantState: true},
		{name: "unfinished task", allowed: allowed, busy: true, wantState: true, wantCalled: true},
		{name: "read fails", allowed: allowed, err: boom, wantErr: boom, wantCalled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			err := Gate(inst, tt.allowed, func() (bool, error) { called = true; return tt.busy, tt.err })
			var se *store.StateError
			switch {
			case tt.wantState:
				if !errors.As(err, &se) || se.InstanceID != "i" || se.Status != model.StatusActive {
					t.Errorf("Gate() = %v, want a *StateError of i ACTIVE", err)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Gate() = %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Errorf("Gate() = %v, want nil", err)
			}
			if called != tt.wantCalled {
				t.Errorf("Gate() asked for tasks: %v, want %v", called, tt.wantCalled)
			}
		})
	}
}

func TestDefaultTimes(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	earlier := now.Add(-time.Hour)
	tests := []struct {
		name                   string
		created, updated       time.Time
		wantCreated, wantUpdtd time.Time
	}{
		{name: "both zero", wantCreated: now, wantUpdtd: now},
		{name: "created set", created: earlier, wantCreated: earlier, wantUpdtd: earlier},
		{name: "both set", created: earlier, updated: now.Add(time.Hour), wantCreated: earlier, wantUpdtd: now.Add(time.Hour)},
		{name: "updated set", updated: earlier, wantCreated: now, wantUpdtd: earlier},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, u := tt.created, tt.updated
			DefaultTimes(&c, &u, now)
			if !c.Equal(tt.wantCreated) || !u.Equal(tt.wantUpdtd) {
				t.Errorf("DefaultTimes = %v, %v; want %v, %v", c, u, tt.wantCreated, tt.wantUpdtd)
			}
		})
	}
}

func TestMeta(t *testing.T) {
	for _, m := range []map[string]string{nil, {}, {"gtid": "0-1-2", "lsn": "0/3"}} {
		s, err := EncodeMeta(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeMeta("b", s)
		if err != nil {
			t.Fatalf("DecodeMeta(%q) = %v", s, err)
		}
		if len(m) == 0 {
			if s != "{}" || len(got) != 0 {
				t.Errorf("EncodeMeta(%v) = %q, decoded %v; want {} and empty", m, s, got)
			}
			continue
		}
		if d := cmp.Diff(m, got); d != "" {
			t.Errorf("meta round trip (-want +got):\n%s", d)
		}
	}
	if got, err := DecodeMeta("b", ""); got != nil || err != nil {
		t.Errorf(`DecodeMeta("") = %v, %v; want nil, nil`, got, err)
	}
	if _, err := DecodeMeta("b", "[1]"); err == nil {
		t.Error("DecodeMeta([1]) succeeded")
	}
}

func TestValues(t *testing.T) {
	for _, v := range []map[string]string{nil, {}, {"max_connections": "100"}} {
		s, err := EncodeValues(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeValues("c", []byte(s))
		if err != nil {
			t.Fatalf("DecodeValues(%q) = %v", s, err)
		}
		if got == nil {
			t.Errorf("DecodeValues(%q) = nil, want a map", s)
		}
		if len(v) == 0 && s != "{}" {
			t.Errorf("EncodeValues(%v) = %q, want {}", v, s)
		}
		if len(v) > 0 {
			if d := cmp.Diff(v, got); d != "" {
				t.Errorf("values round trip (-want +got):\n%s", d)
			}
		}
	}
	if got, err := DecodeValues("c", []byte("null")); err != nil || got == nil {
		t.Errorf("DecodeValues(null) = %v, %v; want an empty map", got, err)
	}
	if _, err := DecodeValues("c", []byte("nope")); err == nil {
		t.Error("DecodeValues(nope) succeeded")
	}
}

func TestAppendDatastore(t *testing.T) {
	var out []model.Datastore
	my := model.Datastore{ID: "d1", Name: "mysql"}
	pg := model.Datastore{ID: "d2", Name: "postgresql"}
	out = AppendDatastore(out, my, &model.DatastoreVersion{ID: "v1", Name: "10.11"})
	out = AppendDatastore(out, my, &model.DatastoreVersion{ID: "v2", Name: "11.4", Active: true})
	out = AppendDatastore(out, pg, nil)
	want := []model.Datastore{
		{ID: "d1", Name: "mysql", Versions: []model.DatastoreVersion{
			{ID: "v1", DatastoreID: "d1", DatastoreName: "mysql", Name: "10.11"},
			{ID: "v2", DatastoreID: "d1", DatastoreName: "mysql", Name: "11.4", Active: true},
		}},
		{ID: "d2", Name: "postgresql"},
	}
	if d := cmp.Diff(want, out); d != "" {
		t.Errorf("AppendDatastore (-want +got):\n%s", d)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", "{}", "null", `{"a":"b"}`, "[1]", `{"a":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if m, err := DecodeMeta("b", s); err == nil {
			again, err := EncodeMeta(m)
			if err != nil {
				t.Fatalf("EncodeMeta(DecodeMeta(%q)) = %v", s, err)
			}
			if m2, err := DecodeMeta("b", again); err != nil || !cmp.Equal(m2, m, cmpEmpty) {
				t.Fatalf("meta %q: decoded %v, re-encoded %q, decoded %v, %v", s, m, again, m2, err)
			}
		}
		if v, err := DecodeValues("c", []byte(s)); err == nil && v == nil {
			t.Fatalf("DecodeValues(%q) = nil map", s)
		}
	})
}

// cmpEmpty makes a nil map equal an empty one.
var cmpEmpty = cmp.Comparer(func(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
})
