package mariadb

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/datastore"
)

func TestContainer(t *testing.T) {
	tests := []struct {
		name string
		spec datastore.Spec
		want datastore.Container
	}{
		{"default port", datastore.Spec{DataDir: "/var/lib/hoard/data", Port: 3306}, datastore.Container{
			Image:            "docker.io/library/mariadb:10.11",
			AdminPasswordEnv: "MARIADB_ROOT_PASSWORD",
			Readiness: []string{"mariadb-admin", "--no-defaults", "--protocol=tcp", "--host=127.0.0.1", "--port=3306",
				"--connect-timeout=2", "ping"},
		}},
		{"other port", datastore.Spec{DataDir: "/data", Port: 3307}, datastore.Container{
			Image:            "docker.io/library/mariadb:10.11",
			AdminPasswordEnv: "MARIADB_ROOT_PASSWORD",
			Readiness: []string{"mariadb-admin", "--no-defaults", "--protocol=tcp", "--host=127.0.0.1", "--port=3307",
				"--connect-timeout=2", "ping"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := New(Config{}).Container(tt.spec)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Container(%+v) mismatch (-want +got):\n%s", tt.spec, diff)
			}
		})
	}
	// A driver asks for the image and the variable names with a zero Spec.
	if got := New(Config{}).Container(datastore.Spec{}); got.Image == "" || got.AdminPasswordEnv == "" {
		t.Errorf("Container(zero Spec) = %+v, want the image and the variable names", got)
	}
}
