package postgresql

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
		{"default port", datastore.Spec{DataDir: "/var/lib/hoard/data", Port: 5432}, datastore.Container{
			Image:            "docker.io/library/postgres:15",
			AdminUserEnv:     "POSTGRES_USER",
			AdminPasswordEnv: "POSTGRES_PASSWORD",
			Env:              []datastore.EnvVar{{Name: "PGDATA", Value: "/var/lib/hoard/data"}},
			Readiness:        []string{"pg_isready", "--host=127.0.0.1", "--port=5432", "--timeout=2"},
		}},
		{"other port and data directory", datastore.Spec{DataDir: "/data/pg", Port: 5433}, datastore.Container{
			Image:            "docker.io/library/postgres:15",
			AdminUserEnv:     "POSTGRES_USER",
			AdminPasswordEnv: "POSTGRES_PASSWORD",
			Env:              []datastore.EnvVar{{Name: "PGDATA", Value: "/data/pg"}},
			Readiness:        []string{"pg_isready", "--host=127.0.0.1", "--port=5433", "--timeout=2"},
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
	if got := New(Config{}).Container(datastore.Spec{}); got.Image == "" || got.AdminUserEnv == "" || got.AdminPasswordEnv == "" {
		t.Errorf("Container(zero Spec) = %+v, want the image and the variable names", got)
	}
}
