package mariadb

import (
	"strconv"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.Containerized = (*Engine)(nil)

// defaultImage is the official image hoard runs by default; its tag is the
// version a container driver offers.
const defaultImage = "docker.io/library/mariadb:10.11"

// Container implements datastore.Containerized for the official image,
// which takes the root password in MARIADB_ROOT_PASSWORD (it has no
// variable for another account: see docs/kubernetes.md).
//
// The readiness command asks the server itself, over TCP on the loopback
// address: the image initialises an empty data directory with a temporary
// server started with --skip-networking, so the pod is not ready while
// that runs. `mariadb-admin ping` exits 0 once the server answers, even
// when it refuses the (empty) credentials, so it does not need hoard's
// admin account, which the bootstrap step creates only once the pod is
// ready.
func (e *Engine) Container(spec datastore.Spec) datastore.Container {
	return datastore.Container{
		Image:            defaultImage,
		AdminPasswordEnv: "MARIADB_ROOT_PASSWORD",
		Readiness: []string{"mariadb-admin", "--no-defaults", "--protocol=tcp", "--host=127.0.0.1",
			"--port=" + strconv.Itoa(spec.Port), "--connect-timeout=2", "ping"},
	}
}
