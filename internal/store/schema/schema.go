package schema

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered schema change.
type Migration struct {
	// Version is the number the file name starts with.
	Version int
	// Name is the file name, such as "0001_init.sql".
	Name string
	// SQL is the file's content.
	SQL string
}

// ErrBadName is returned (wrapped) by [ParseName] and [Load] for a file
// name that is not NNNN_name.sql.
var ErrBadName = errors.New("schema: migration name is not NNNN_name.sql")

// ParseName returns the version of a migration file named NNNN_name.sql:
// one or more decimal digits, an underscore, a non-empty name and the
// suffix ".sql". The version is at least 1.
func ParseName(name string) (int, error) {
	num, rest, ok := strings.Cut(name, "_")
	if !ok || num == "" || !strings.HasSuffix(rest, ".sql") || rest == ".sql" {
		return 0, fmt.Errorf("%w: %q", ErrBadName, name)
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %q", ErrBadName, name)
		}
	}
	v, err := strconv.Atoi(num)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %w", ErrBadName, name, err)
	}
	if v < 1 {
		return 0, fmt.Errorf("%w: %q: versions start at 1", ErrBadName, name)
	}
	return v, nil
}

// Load reads the migrations dir/*.sql of fsys and returns them in version
// order. It fails if a name is not NNNN_name.sql or if the versions are
// not exactly 1, 2, ... n.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, fmt.Errorf("schema: list migrations: %w", err)
	}
	ms := make([]Migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		v, err := ParseName(base)
		if err != nil {
			return nil, err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("schema: read migration %s: %w", base, err)
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if i > 0 && m.Version == ms[i-1].Version {
			return nil, fmt.Errorf("schema: migrations %s and %s have the same version", ms[i-1].Name, m.Name)
		}
		if m.Version != i+1 {
			return nil, fmt.Errorf("schema: migration %s: want version %d", m.Name, i+1)
		}
	}
	return ms, nil
}

// Backend is what [Apply] needs from a store. The version table exists
// before Apply is called.
type Backend interface {
	// Version returns the highest applied version, 0 if none is.
	Version(ctx context.Context) (int, error)
	// InTx runs fn in one transaction, committing it if fn returns nil
	// and rolling it back otherwise.
	InTx(ctx context.Context, fn func(Tx) error) error
}

// Tx is a transaction of a [Backend].
type Tx interface {
	// Version returns the highest applied version seen by the
	// transaction, 0 if none is.
	Version(ctx context.Context) (int, error)
	// Exec runs the statements of one migration file.
	Exec(ctx context.Context, sql string) error
	// Record records version as applied.
	Record(ctx context.Context, version int) error
}

// Apply applies the migrations of ms (as [Load] returns them) above the
// backend's version, up to and including version target (a negative
// target, or one past the last, means all), each in its own
// transaction. A migration that another process applied meanwhile is
// skipped. It fails, applying nothing, if the backend's version is newer
// than the last of ms.
func Apply(ctx context.Context, b Backend, ms []Migration, target int) error {
	if target < 0 || target > len(ms) {
		target = len(ms)
	}
	cur, err := b.Version(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if cur > len(ms) {
		return fmt.Errorf("database schema version %d is newer than this hoard's (%d)", cur, len(ms))
	}
	for _, m := range ms[min(cur, target):target] {
		err := b.InTx(ctx, func(tx Tx) error {
			// Another process may have applied it since we looked.
			v, err := tx.Version(ctx)
			if err != nil {
				return err
			}
			if v >= m.Version {
				return nil
			}
			if err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			return tx.Record(ctx, m.Version)
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}
