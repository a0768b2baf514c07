package redis

import (
	"strconv"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.Containerized = (*Engine)(nil)

// defaultImage is the official image hoard runs by default; its tag is the
// version a container driver offers.
const defaultImage = "docker.io/library/redis:7.0"

// Container implements datastore.Containerized for the official image,
// which has no variables for an account: Bootstrap creates hoard's admin
// account as the default user, password-less on a fresh instance.
//
// The readiness command asks the server itself, over TCP on the loopback
// address: `redis-cli ping` must print PONG, as hoard's admin when the
// account exists, else as the default user (a fresh instance), so that a
// server still loading its dataset (LOADING) is not ready. redis-cli exits
// 0 on error replies: the output is compared, through sh. The password
// reaches redis-cli in REDISCLI_AUTH, never in its arguments.
func (e *Engine) Container(spec datastore.Spec) datastore.Container {
	return datastore.Container{
		Image: defaultImage,
		Readiness: []string{"sh", "-c", `REDISCLI_AUTH="$` + datastore.EnvAdminPassword + `" redis-cli --user "$` +
			datastore.EnvAdminUser + `" -h 127.0.0.1 -p ` + strconv.Itoa(spec.Port) + ` ping 2>/dev/null | grep -qx PONG`},
		// seedAOF's rule, in the container: a snapshot and no append-only
		// file yet (a pod made before the AOF was on) becomes the AOF's base.
		Prepare: []string{"sh", "-c", `cd "$1" && if [ -f ` + rdbName + ` ] && [ ! -L ` + rdbName + ` ] && [ ! -e ` + aofDirName +
			` ] && [ ! -e ` + aofFileName + ` ] && [ ! -L ` + aofFileName + ` ]; then ln ` + rdbName + " " + aofFileName + `; fi`,
			"prepare", spec.DataDir},
	}
}
