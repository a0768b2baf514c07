package mariadb

import (
	"context"
	"fmt"
	"os"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.Templater = process{}

// TemplateVersion implements datastore.Templater: the output of
// `mariadbd --version` and the host name. mariadb-install-db leaves root
// without a password (Bootstrap replaces it) and writes no server_id (the
// configuration has it: serverID) nor server UUID (MariaDB has none); the
// only thing of the host in its output is the root@<hostname> account,
// which Bootstrap removes with the other password-less ones. Keeping the
// host name in the identity still makes a renamed host initialise afresh.
func (p process) TemplateVersion(ctx context.Context) (string, error) {
	bin := p.e.program(serverProgram)
	if bin == "" {
		return "", datastore.ErrNotInstalled
	}
	out, err := p.e.versions.Output(ctx, bin)
	if err != nil {
		return "", fmt.Errorf("mariadb: template version: %w", err)
	}
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("mariadb: template version: %w", err)
	}
	return fmt.Sprintf("%s: %s; host %s", bin, out, host), nil
}

// Templatable implements datastore.Templater. mariadb-install-db reads
// my.cnf: a configuration group may set what shapes the files it writes
// (innodb_page_size, innodb_undo_tablespaces, lower_case_table_names,
// the server's character set...), so only an instance without
// configuration values is given a pre-initialised directory. Everything
// else Render writes (paths, port, buffer sizes, TLS, logs, the admin
// init-file, replication) is read by the server, not written into the
// system tables by the init.
func (p process) Templatable(spec datastore.Spec) bool {
	return len(spec.Config) == 0 && spec.ReplicaOf == nil
}
