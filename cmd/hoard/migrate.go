package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/postgres"
	"github.com/hoard-db/hoard/internal/store/sqlite"
)

// storeKind names a metadata store backend.
type storeKind string

const (
	storeSQLite   storeKind = "sqlite"
	storePostgres storeKind = "postgres"
)

// storeSpec says which metadata store to open: an SQLite file (Path) or a
// PostgreSQL database (DSN).
type storeSpec struct {
	Kind storeKind
	Path string // SQLite database file
	DSN  string // PostgreSQL connection URL
}

// String names the store without credentials, for logs.
func (s storeSpec) String() string {
	if s.Kind == storeSQLite {
		return "sqlite://" + s.Path
	}
	i := strings.Index(s.DSN, "@")
	if i < 0 {
		return s.DSN
	}
	scheme, _, _ := strings.Cut(s.DSN, "://")
	return scheme + "://…" + s.DSN[i:]
}

// parseStore parses the --store value: "" is SQLite in dataDir (hoard.db),
// sqlite:///abs/path.db an SQLite file, postgres://... or postgresql://... a
// PostgreSQL database (any URL pgx accepts).
func parseStore(v, dataDir string) (storeSpec, error) {
	switch {
	case v == "":
		if dataDir == "" {
			return storeSpec{}, errors.New("no store given")
		}
		return storeSpec{Kind: storeSQLite, Path: filepath.Join(dataDir, "hoard.db")}, nil
	case strings.HasPrefix(v, "sqlite://"):
		p := strings.TrimPrefix(v, "sqlite://")
		if p == "" || strings.ContainsRune(p, 0) {
			return storeSpec{}, errors.New("sqlite store: want sqlite:///path/to/hoard.db")
		}
		return storeSpec{Kind: storeSQLite, Path: filepath.Clean(p)}, nil
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		return storeSpec{Kind: storePostgres, DSN: v}, nil
	default:
		// Never echo v: it may be a URL with a password.
		return storeSpec{}, errors.New("store: want sqlite:///path or postgres://... (a URL)")
	}
}

// metaStore is a store that also reports its schema version.
type metaStore interface {
	store.Store
	SchemaVersion(ctx context.Context) (int, error)
}

// openStore opens (and migrates) the store of spec.
func openStore(ctx context.Context, spec storeSpec) (metaStore, error) {
	switch spec.Kind {
	case storeSQLite:
		// SQLite gives its -wal and -shm files the mode of the database
		// file: create it readable by its owner only.
		if f, err := os.OpenFile(spec.Path, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
			f.Close()
		}
		return sqlite.Open(ctx, spec.Path)
	case storePostgres:
		return postgres.Open(ctx, spec.DSN)
	}
	return nil, fmt.Errorf("unknown store kind %q", spec.Kind)
}

// migrateCmd is `hoard migrate`: with --store it applies the pending schema
// migrations and prints the schema version; with --from and --to it copies
// an SQLite data set into an empty PostgreSQL database.
func migrateCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("hoard migrate", flag.ContinueOnError)
	storeFlag := fs.String("store", os.Getenv("HOARD_STORE"), "store to migrate: sqlite:///path or postgres://... (env HOARD_STORE)")
	from := fs.String("from", "", "copy from this store (sqlite:///path/hoard.db)")
	to := fs.String("to", "", "copy into this store (postgres://...), which must hold no instances, projects or users")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage:
  hoard migrate --store URL                  apply schema migrations, print the schema version
  hoard migrate --from sqlite:///path/hoard.db --to postgres://...
                                             copy a data set (stop hoard first)
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	if (*from == "") != (*to == "") {
		fmt.Fprintln(os.Stderr, "hoard migrate: --from and --to go together")
		return errUsage
	}
	if *from != "" {
		src, err := openSpec(ctx, *from)
		if err != nil {
			return err
		}
		defer src.Close()
		dst, err := openSpec(ctx, *to)
		if err != nil {
			return err
		}
		defer dst.Close()
		n, err := copyStore(ctx, dst, src)
		if err != nil {
			return err
		}
		v, err := dst.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "copied %s; schema version %d\n", n, v)
		return nil
	}
	if *storeFlag == "" {
		fmt.Fprintln(os.Stderr, "hoard migrate: --store (or --from and --to) is required")
		return errUsage
	}
	st, err := openSpec(ctx, *storeFlag)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema version %d\n", v)
	return nil
}

// openSpec parses and opens a store URL given to migrate.
func openSpec(ctx context.Context, v string) (metaStore, error) {
	spec, err := parseStore(v, "")
	if err != nil {
		return nil, err
	}
	if spec.Kind == storeSQLite {
		if _, err := os.Stat(spec.Path); err != nil {
			return nil, fmt.Errorf("sqlite store: %w", err)
		}
	}
	st, err := openStore(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", spec, err)
	}
	return st, nil
}

// copyCounts says how much copyStore copied.
type copyCounts struct {
	Flavors, Datastores, Projects, Users, Roles, Instances, Tasks int
}

func (c copyCounts) String() string {
	return fmt.Sprintf("%d flavors, %d datastores, %d projects, %d users, %d role assignments, %d instances, %d unfinished tasks",
		c.Flavors, c.Datastores, c.Projects, c.Users, c.Roles, c.Instances, c.Tasks)
}

// copyStore copies src's data set into dst through the store interfaces:
// flavors, datastores and their versions (keeping IDs and defaults),
// projects, users with their password hashes, role assignments, instances
// with their unfinished task (made pending: the source's hoard is stopped)
// and root history. Finished tasks are history and tokens are short-lived:
// they are not copied (users log in again). dst must hold no instances,
// projects or users.
//
// Unfinished tasks of instances already removed (a delete task between its
// last two steps) are not reachable through the interfaces and are lost;
// let running deletes finish before copying.
func copyStore(ctx context.Context, dst, src store.Store) (copyCounts, error) {
	var n copyCounts
	if err := checkEmpty(ctx, dst); err != nil {
		return n, err
	}
	flavors, err := src.ListFlavors(ctx)
	if err != nil {
		return n, err
	}
	for _, f := range flavors {
		if err := dst.PutFlavor(ctx, f); err != nil {
			return n, err
		}
		n.Flavors++
	}
	datastores, err := src.ListDatastores(ctx)
	if err != nil {
		return n, err
	}
	for _, d := range datastores {
		for _, v := range d.Versions {
			if _, err := dst.PutDatastoreVersion(ctx, v, v.ID == d.DefaultVersionID); err != nil {
				return n, err
			}
		}
		n.Datastores++
	}
	projects, err := src.ListProjects(ctx)
	if err != nil {
		return n, err
	}
	for _, p := range projects {
		if err := dst.CreateProject(ctx, p); err != nil {
			return n, err
		}
		n.Projects++
	}
	users, err := src.ListUsers(ctx)
	if err != nil {
		return n, err
	}
	for _, u := range users {
		if err := dst.CreateUser(ctx, u); err != nil {
			return n, err
		}
		n.Users++
	}
	for _, u := range users {
		ps, err := src.ProjectsOf(ctx, u.ID)
		if err != nil {
			return n, err
		}
		for _, p := range ps {
			roles, err := src.Roles(ctx, u.ID, p.ID)
			if err != nil {
				return n, err
			}
			for _, r := range roles {
				if err := dst.GrantRole(ctx, model.RoleAssignment{UserID: u.ID, ProjectID: p.ID, Role: r}); err != nil {
					return n, err
				}
				n.Roles++
			}
		}
	}
	marker := ""
	for {
		page, err := src.ListInstances(ctx, "", store.Page{Marker: marker, Limit: 500})
		if err != nil {
			return n, err
		}
		for _, inst := range page {
			t, err := src.ActiveTask(ctx, inst.ID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				t = nil
			case err != nil:
				return n, err
			default:
				t.State, t.Owner, t.LeaseUntil = model.TaskPending, "", time.Time{}
				n.Tasks++
			}
			if err := dst.CreateInstance(ctx, inst, t); err != nil {
				return n, err
			}
			n.Instances++
			at, err := src.RootEnabledAt(ctx, inst.ID)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return n, err
			default:
				// The user is not kept by the interface: only the time.
				if err := dst.RecordRootEnabled(ctx, inst.ID, "", at); err != nil {
					return n, err
				}
			}
		}
		if len(page) < 500 {
			break
		}
		marker = page[len(page)-1].ID
	}
	return n, nil
}

// checkEmpty refuses a target that already holds a data set.
func checkEmpty(ctx context.Context, dst store.Store) error {
	insts, err := dst.CountInstances(ctx, "")
	if err != nil {
		return err
	}
	projects, err := dst.ListProjects(ctx)
	if err != nil {
		return err
	}
	users, err := dst.ListUsers(ctx)
	if err != nil {
		return err
	}
	if insts > 0 || len(projects) > 0 || len(users) > 0 {
		return fmt.Errorf("the target store is not empty (%d instances, %d projects, %d users): copy into a new database, before any hoard serves it",
			insts, len(projects), len(users))
	}
	return nil
}
