package main

import (
	"context"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/mariadb"
)

func TestParseImages(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"", map[string]string{}, false},
		{"mariadb=r/m:10.11", map[string]string{"mariadb": "r/m:10.11"}, false},
		{" mariadb = r/m:1 , redis=r/r:7 ", map[string]string{"mariadb": "r/m:1", "redis": "r/r:7"}, false},
		{"postgresql=reg:5000/pg@sha256:abc", map[string]string{"postgresql": "reg:5000/pg@sha256:abc"}, false},
		{"mariadb", nil, true},
		{"mariadb=", nil, true},
		{"=img", nil, true},
		{"oracle=img", nil, true},
		{"mariadb=a,mariadb=b", nil, true},
		{"mariadb=a b", nil, true},
	} {
		got, err := parseImages(tc.in, engineNames(newEngines(nil)))
		if (err != nil) != tc.wantErr {
			t.Errorf("parseImages(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("parseImages(%q) = %v, want %v", tc.in, got, tc.want)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("parseImages(%q)[%s] = %q, want %q", tc.in, k, got[k], v)
			}
		}
	}
}

func TestParseReadiness(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    map[string][]string
		wantErr bool
	}{
		{"", map[string][]string{}, false},
		{"mariadb=healthcheck.sh --connect --innodb_initialized", map[string][]string{"mariadb": {"healthcheck.sh", "--connect", "--innodb_initialized"}}, false},
		{" mariadb = check ; redis=[\"sh\", \"-c\", \"redis-cli ping | grep -qx PONG\"] ;", map[string][]string{"mariadb": {"check"}, "redis": {"sh", "-c", "redis-cli ping | grep -qx PONG"}}, false},
		{"redis=sh -c 'redis-cli ping'", nil, true},
		{"redis=[\"sh\", 1]", nil, true},
		{"redis=[]", nil, true},
		{"redis=[\"sh\"", nil, true},
		{"postgresql=pg_isready -q", map[string][]string{"postgresql": {"pg_isready", "-q"}}, false},
		{"mariadb", nil, true},
		{"mariadb=  ", nil, true},
		{"=check", nil, true},
		{"oracle=check", nil, true},
		{"redis=a;redis=b", nil, true},
	} {
		got, err := parseReadiness(tc.in, engineNames(newEngines(nil)))
		if (err != nil) != tc.wantErr {
			t.Errorf("parseReadiness(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && !maps.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("parseReadiness(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestEngineNames: the flags accept the engines hoard runs, and only them.
func TestEngineNames(t *testing.T) {
	names := engineNames(newEngines(nil))
	if want := []string{"mariadb", "postgresql", "redis"}; !slices.Equal(names, want) {
		t.Errorf("engineNames(newEngines(nil)) = %q, want %q", names, want)
	}
	if _, err := parseImages("mariadb=r/m:1", []string{"redis"}); err == nil {
		t.Error("parseImages accepted an engine hoard does not run")
	}
	if _, err := parseReadiness("mariadb=check", []string{"redis"}); err == nil {
		t.Error("parseReadiness accepted an engine hoard does not run")
	}
}

func TestDriverFlags(t *testing.T) {
	dir := t.TempDir()
	c, err := parseServeFlags([]string{"--data-dir", dir, "--driver", "kubernetes", "--k8s-images", "redis=r:7",
		"--k8s-storage-class", "fast", "--k8s-keep-volumes", "--k8s-namespace-prefix", "db-",
		"--k8s-hoard-namespace", "hoard-system", "--k8s-hoard-pod-labels", "app=hoard,app.kubernetes.io/part-of=db"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Driver != "kubernetes" || c.K8sStorageClass != "fast" || !c.K8sKeepVolumes || c.K8sNamespacePrefix != "db-" ||
		c.K8sHoardNamespace != "hoard-system" || c.K8sHoardPodLabels != "app=hoard,app.kubernetes.io/part-of=db" {
		t.Errorf("config = %+v", c)
	}
	for _, args := range [][]string{
		{"--driver", "docker"},
		{"--k8s-images", "nope"},
		{"--k8s-namespace-prefix", "Bad_"},
		{"--k8s-hoard-namespace", "Hoard_System"},
		{"--k8s-hoard-pod-labels", "app"},
		{"--k8s-hoard-pod-labels", "app=bad value"},
	} {
		if _, err := parseServeFlags(append([]string{"--data-dir", dir}, args...)); err == nil {
			t.Errorf("parseServeFlags(%q) succeeded", args)
		}
	}
	t.Setenv("HOARD_K8S_KEEP_VOLUMES", "true")
	t.Setenv("HOARD_DRIVER", "kubernetes")
	c, err = parseServeFlags([]string{"--data-dir", dir})
	if err != nil || !c.K8sKeepVolumes || c.Driver != "kubernetes" {
		t.Errorf("from the environment: %+v, %v", c, err)
	}
}

func FuzzParseImages(f *testing.F) {
	for _, s := range []string{"", "mariadb=a", "mariadb=a,redis=b", "x=y", "=,=", "mariadb=a=b"} {
		f.Add(s)
	}
	names := engineNames(newEngines(nil))
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseImages(s, names)
		if err != nil {
			return
		}
		for eng, img := range m {
			if img == "" || strings.ContainsAny(img, " ,") {
				t.Errorf("parseImages(%q): %s=%q", s, eng, img)
			}
		}
	})
}

func TestImageVersion(t *testing.T) {
	for _, tc := range []struct {
		image string
		want  datastore.Version // zero: no usable version
	}{
		{"mariadb:10.11", datastore.Version{Name: "10.11", Version: "10.11"}},
		{"docker.io/library/postgres:15", datastore.Version{Name: "15", Version: "15"}},
		{"redis:7.0", datastore.Version{Name: "7.0", Version: "7.0"}},
		{"registry.example:5000/db/mariadb:10.11.6-jammy", datastore.Version{Name: "10.11.6", Version: "10.11.6-jammy"}},
		{"postgres:15.6-bookworm@sha256:0123abcd", datastore.Version{Name: "15.6", Version: "15.6-bookworm"}},
		{"redis:7.0-alpine3.19", datastore.Version{Name: "7.0", Version: "7.0-alpine3.19"}},
		{"mariadb", datastore.Version{}},                             // implicit latest
		{"registry.example:5000/mariadb", datastore.Version{}},       // the port is no tag
		{"mariadb@sha256:0123abcd", datastore.Version{}},             // digest only
		{"mariadb:latest", datastore.Version{}},                      // not a version
		{"mariadb:lts", datastore.Version{}},                         // not a version
		{"mariadb:10.11rc", datastore.Version{}},                     // not a version
		{"mariadb:", datastore.Version{}},                            // empty tag
		{"mariadb:10.11:x", datastore.Version{}},                     // invalid tag
		{"mariadb:" + strings.Repeat("1", 129), datastore.Version{}}, // tag too long
	} {
		got, err := imageVersion(tc.image)
		if tc.want == (datastore.Version{}) {
			if err == nil {
				t.Errorf("imageVersion(%q) = %+v, want an error", tc.image, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("imageVersion(%q) = %+v, %v; want %+v", tc.image, got, err, tc.want)
		}
	}
}

// TestImageVersions: under the kubernetes driver, each engine offers its
// image's version (the default image when none is configured).
func TestImageVersions(t *testing.T) {
	images, err := parseImages("mariadb=registry.example/mariadb:10.11.6,redis=registry.example/redis", engineNames(newEngines(nil)))
	if err != nil {
		t.Fatal(err)
	}
	maria := mariadb.New(mariadb.Config{})
	image := func(engine string) string { // as kubernetes.Driver.Image
		if img := images[engine]; img != "" {
			return img
		}
		if engine == maria.Name() {
			return maria.Container(datastore.Spec{}).Image
		}
		return ""
	}
	versions := imageVersions(image)
	ctx := context.Background()
	got, err := versions(ctx, mariadb.New(mariadb.Config{}))
	if err != nil || len(got) != 1 || got[0] != (datastore.Version{Name: "10.11.6", Version: "10.11.6"}) {
		t.Errorf("versions(mariadb) = %+v, %v; want 10.11.6", got, err)
	}
	images = map[string]string{}
	if got, err := versions(ctx, mariadb.New(mariadb.Config{})); err != nil || len(got) != 1 || got[0].Name != "10.11" {
		t.Errorf("versions(mariadb) with the default image = %+v, %v; want 10.11", got, err)
	}
	images["mariadb"] = "registry.example/mariadb"
	if got, err := versions(ctx, mariadb.New(mariadb.Config{})); err == nil || !strings.Contains(err.Error(), "no tag") {
		t.Errorf("versions(mariadb) of an untagged image = %+v, %v; want a no-tag error", got, err)
	}
}

// versionNameRE is what a version name read from a tag looks like.
var versionNameRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)

func FuzzImageVersion(f *testing.F) {
	for _, s := range []string{"mariadb:10.11", "postgres:15.6-bookworm@sha256:ab", "r:5000/redis", "a@b:c", ":1", "x/:1.2", "m:1.2.3.4.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, image string) {
		v, err := imageVersion(image)
		if err != nil {
			return
		}
		if !versionNameRE.MatchString(v.Name) || !strings.HasPrefix(v.Version, v.Name) ||
			!strings.Contains(image, ":"+v.Version) || strings.ContainsAny(v.Version, ":/@ ") {
			t.Errorf("imageVersion(%q) = %+v", image, v)
		}
	})
}
