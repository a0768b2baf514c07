package postgresql

import (
	"strconv"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.Containerized = (*Engine)(nil)

// defaultImage is the official image hoard runs by default; its tag is the
// version a container driver offers.
const defaultImage = "docker.io/library/postgres:15"

// Container implements datastore.Containerized for the official image: it
// creates hoard's admin account as its superuser from POSTGRES_USER and
// POSTGRES_PASSWORD, and initialises the data directory named by PGDATA
// (spec.DataDir, where ServerArgs points the server).
//
// The readiness command asks the server itself, over TCP on the loopback
// address: the image initialises an empty data directory with a temporary
// server whose listen_addresses is empty, so the pod is not ready while
// that runs. `pg_isready` exits 0 only once the server accepts connections
// (not while it starts up, recovers or shuts down), and needs no account.
func (e *Engine) Container(spec datastore.Spec) datastore.Container {
	return datastore.Container{
		Image:            defaultImage,
		AdminUserEnv:     "POSTGRES_USER",
		AdminPasswordEnv: "POSTGRES_PASSWORD",
		Env:              []datastore.EnvVar{{Name: "PGDATA", Value: spec.DataDir}},
		Readiness:        []string{"pg_isready", "--host=127.0.0.1", "--port=" + strconv.Itoa(spec.Port), "--timeout=2"},
	}
}
