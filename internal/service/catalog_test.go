package service

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver/fake"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/secret"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/sqlite"
)

// paramEngine is fakeEngine with configuration groups: installed is what
// Discover finds on this host (nil: not installed), paramsErr what
// Parameters fails with.
type paramEngine struct {
	fakeEngine
	installed []datastore.Version
	paramsErr error
}

func (e *paramEngine) Discover(context.Context) ([]datastore.Version, error) {
	if e.installed == nil {
		return nil, datastore.ErrNotInstalled
	}
	return e.installed, nil
}
func (e *paramEngine) Parameters(context.Context) ([]datastore.Parameter, error) {
	if e.paramsErr != nil {
		return nil, e.paramsErr
	}
	return testParams, nil
}
func (e *paramEngine) ApplyDynamic(context.Context, datastore.Conn, map[string]string) error {
	return nil
}
func (e *paramEngine) Defaults(datastore.Spec) map[string]string { return map[string]string{} }

// newCatalogService returns a service on st (a new store if nil) whose only
// engine is eng, offering what versions returns (nil: eng.Discover), with
// its catalogue seeded.
func newCatalogService(t *testing.T, st store.Store, eng datastore.Engine,
	versions func(context.Context, datastore.Engine) ([]datastore.Version, error)) (*Service, store.Store) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if st == nil {
		var err error
		st, err = sqlite.Open(ctx, filepath.Join(dir, "hoard.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
	}
	sealer, err := secret.LoadOrCreateKey(filepath.Join(dir, "key"))
	if err != nil {
		t.Fatal(err)
	}
	svc := New(Config{DefaultDatastore: "mysql", Store: st, Driver: fake.New(), Engines: map[string]datastore.Engine{"fakedb": eng},
		Sealer: sealer, Versions: versions, Logger: slog.New(slog.DiscardHandler)})
	if err := svc.SeedCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	return svc, st
}

// offered lists the offered versions as "datastore version (full)".
func offered(t *testing.T, svc *Service) []string {
	t.Helper()
	all, err := svc.ListDatastores(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range all {
		for _, v := range d.Versions {
			s := d.Name + " " + v.Name + " (" + v.Version + ")"
			if v.ID == d.DefaultVersionID {
				s += " default"
			}
			out = append(out, s)
		}
	}
	return out
}

func fixed(vs ...datastore.Version) func(context.Context, datastore.Engine) ([]datastore.Version, error) {
	return func(context.Context, datastore.Engine) ([]datastore.Version, error) { return vs, nil }
}

// TestCatalogFromVersions: Config.Versions (the Kubernetes images) decides
// the catalogue, not what is installed here; what is no longer offered is
// kept for its instances but not listed.
func TestCatalogFromVersions(t *testing.T) {
	eng := &paramEngine{} // nothing installed on this host
	svc, st := newCatalogService(t, nil, eng, fixed(datastore.Version{Name: "11.4", Version: "11.4-noble"}))
	want := []string{"mariadb 11.4 (11.4-noble) default", "mysql 11.4 (11.4-noble) default"}
	if got := strings.Join(offered(t, svc), ", "); got != strings.Join(want, ", ") {
		t.Errorf("offered = %s, want %s", got, strings.Join(want, ", "))
	}
	ctx := context.Background()
	old, err := st.ListDatastores(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Another image: the new version is offered, the old one is not.
	svc, _ = newCatalogService(t, st, eng, fixed(datastore.Version{Name: "10.11", Version: "10.11"}))
	want = []string{"mariadb 10.11 (10.11) default", "mysql 10.11 (10.11) default"}
	if got := strings.Join(offered(t, svc), ", "); got != strings.Join(want, ", ") {
		t.Errorf("offered after the image changed = %s, want %s", got, strings.Join(want, ", "))
	}
	// ... but it still resolves for the instances that run it.
	if v, err := svc.versionByID(ctx, old[0].Versions[0].ID); err != nil || v.Name != "11.4" || v.Active {
		t.Errorf("retired version = %+v, %v; want 11.4, inactive", v, err)
	}

	// An engine whose image has no usable version is not offered at all.
	svc, _ = newCatalogService(t, st, eng, func(context.Context, datastore.Engine) ([]datastore.Version, error) {
		return nil, errors.New("image has no tag")
	})
	if got := offered(t, svc); len(got) != 0 {
		t.Errorf("offered without a usable image = %v, want nothing", got)
	}
	if _, _, err := svc.resolveDatastore(ctx, "mysql", ""); fault.KindOf(err) != fault.NotFound {
		t.Errorf("resolve mysql without a usable image = %v, want NotFound", err)
	}

	// By default the catalogue is what is installed on this host.
	eng2 := &paramEngine{installed: []datastore.Version{{Name: "10.11", Version: "10.11.19"}}}
	svc, _ = newCatalogService(t, nil, eng2, nil)
	want = []string{"mariadb 10.11 (10.11.19) default", "mysql 10.11 (10.11.19) default"}
	if got := strings.Join(offered(t, svc), ", "); got != strings.Join(want, ", ") {
		t.Errorf("offered from the installed engine = %s, want %s", got, strings.Join(want, ", "))
	}
}

// TestParametersWithoutLocalEngine: a catalogue that cannot be read from
// an engine on this host (not installed, or another version than the
// image's) is a clean 501 with a message, never an internal error.
func TestParametersWithoutLocalEngine(t *testing.T) {
	v1011 := datastore.Version{Name: "10.11", Version: "10.11.19"}
	tests := []struct {
		name      string
		installed []datastore.Version
		paramsErr error
		versions  func(context.Context, datastore.Engine) ([]datastore.Version, error)
		served    bool // the catalogue is served; else an error of kind want
		want      fault.Kind
		msg       string
	}{
		{name: "installed", installed: []datastore.Version{v1011}, served: true},
		{name: "binary gone", installed: []datastore.Version{v1011}, paramsErr: datastore.ErrNotInstalled,
			want: fault.NotImplemented, msg: "not installed"},
		{name: "images, not installed here", versions: fixed(datastore.Version{Name: "10.11", Version: "10.11"}),
			want: fault.NotImplemented, msg: "not installed"},
		{name: "images, another version here", installed: []datastore.Version{{Name: "11.4", Version: "11.4.2"}},
			versions: fixed(datastore.Version{Name: "10.11", Version: "10.11"}),
			want:     fault.NotImplemented, msg: "which is version 11.4.2"},
		{name: "images, same version here", installed: []datastore.Version{v1011},
			versions: fixed(datastore.Version{Name: "10.11", Version: "10.11-jammy"}), served: true},
		{name: "images, patch of the version here", installed: []datastore.Version{v1011},
			versions: fixed(datastore.Version{Name: "10.11.6", Version: "10.11.6"}), served: true},
		{name: "other failures stay internal", installed: []datastore.Version{v1011}, paramsErr: errors.New("crashed"),
			want: fault.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng := &paramEngine{installed: tt.installed, paramsErr: tt.paramsErr}
			svc, _ := newCatalogService(t, nil, eng, tt.versions)
			all, err := svc.ListDatastores(context.Background())
			if err != nil || len(all) == 0 {
				t.Fatalf("no datastore offered: %v", err)
			}
			id := all[0].Versions[0].ID
			ps, err := svc.Parameters(context.Background(), id)
			if tt.served {
				if err != nil || len(ps) != len(testParams) {
					t.Errorf("Parameters = %d, %v; want the catalogue", len(ps), err)
				}
				return
			}
			if fault.KindOf(err) != tt.want {
				t.Errorf("Parameters error = %v (kind %v), want kind %v", err, fault.KindOf(err), tt.want)
			}
			if tt.msg != "" && !strings.Contains(fault.Message(err), tt.msg) {
				t.Errorf("Parameters message = %q, want it to say %q", fault.Message(err), tt.msg)
			}
			if _, err := svc.Parameter(context.Background(), id, "max_connections"); fault.KindOf(err) != tt.want {
				t.Errorf("Parameter error = %v, want kind %v", err, tt.want)
			}
		})
	}
}

func TestSameVersion(t *testing.T) {
	local := datastore.Version{Name: "10.11", Version: "10.11.19"}
	for _, tt := range []struct {
		name string
		want bool
	}{
		{"10.11", true}, {"10.11.19", true}, {"10.11.6", true},
		{"10.1", false}, {"10", false}, {"10.110", false}, {"11.4", false}, {"", false},
	} {
		if got := sameVersion(local, tt.name); got != tt.want {
			t.Errorf("sameVersion(%v, %q) = %v, want %v", local, tt.name, got, tt.want)
		}
	}
}
