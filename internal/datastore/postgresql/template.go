package postgresql

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.Templater = process{}

// TemplateVersion implements datastore.Templater: the output of
// `initdb --version` and `postgres --version` of the newest installed
// major (the one instances run on), with their paths. initdb's superuser
// "postgres" has no password (Bootstrap makes it NOLOGIN), and the system
// identifier initdb draws is unique to each pre-initialised directory,
// each of which serves one instance.
func (p process) TemplateVersion(ctx context.Context) (string, error) {
	dirs := p.e.binDirs()
	if len(dirs) == 0 {
		return "", datastore.ErrNotInstalled
	}
	var s string
	for _, name := range []string{"initdb", "postgres"} {
		bin := filepath.Join(dirs[0], name)
		out, err := p.e.versions.Output(ctx, bin)
		if err != nil {
			return "", fmt.Errorf("postgresql: template version: %w", err)
		}
		s += bin + ": " + out
	}
	return s, nil
}

// Templatable implements datastore.Templater: initdb reads nothing of the
// spec but the data directory's path, which it does not record (hoard's
// postgresql.conf and pg_hba.conf live in ConfDir; initdb's own copies in
// the data directory are not read). A replica is seeded from its source.
func (p process) Templatable(spec datastore.Spec) bool { return spec.ReplicaOf == nil }
