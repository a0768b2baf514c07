package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
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
	to := fs.String("to", "", "copy into this store (postgres://...), which must be empty")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage:
  hoard migrate --store URL                  apply schema migrations, print the schema version
  hoard migrate --from sqlite:///path/hoard.db --to postgres://...
                                             copy a data set (stop hoard first)
`)
		fs.PrintDefaults()
	}
	helpToStdout(fs, args)
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
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
		n, err := copyStore(ctx, dst, src, time.Now())
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
	Flavors, Datastores, Parameters, Projects, Users, Roles, Configurations,
	Instances, HAGroups, RootRecords, Tasks, Unfinished, Backups, Schedules, Settings, Quotas int
}

func (c copyCounts) String() string {
	return fmt.Sprintf("%d flavors, %d datastores, %d parameter catalogues, %d projects, %d users, %d role assignments, "+
		"%d configuration groups, %d instances, %d HA groups, %d root records, %d tasks (%d unfinished), %d backups, %d backup schedules, %d settings, %d project quotas",
		c.Flavors, c.Datastores, c.Parameters, c.Projects, c.Users, c.Roles, c.Configurations,
		c.Instances, c.HAGroups, c.RootRecords, c.Tasks, c.Unfinished, c.Backups, c.Schedules, c.Settings, c.Quotas)
}

// copyStore copies src's whole data set into dst, record by record, as it
// is: IDs, times, statuses and references are kept, and sealed secrets
// (instances' and backups' admin credentials, task payloads) are copied as
// the sealed bytes, so dst needs the same secret.key. It copies flavors,
// datastores and their versions (same IDs and defaults) with their
// parameter catalogues, projects, users with their password hashes, role
// assignments, configuration groups (instances keep their attachment),
// instances, HA groups, root history (time and user), every task (finished ones are
// the history; unfinished ones, those of removed instances included,
// resume where they stopped), backups (the records: their files stay where
// they are and the copies name the same locations), backup schedules,
// settings and projects' quotas. Tokens are not copied: they are short-lived sessions, users log
// in again.
//
// The source must be quiet: a task running under a lease that has not
// ended means a hoard still serves it, and the copy is refused (a stopped
// hoard hands its tasks back; a running task whose lease ended, left by a
// hoard that crashed, is copied as pending, as hoard serve's start-up
// would make it). dst must be empty (see checkEmpty). The copy is not one
// transaction: if it fails half-way, drop and recreate the target
// database before running it again.
func copyStore(ctx context.Context, dst, src store.Store, now time.Time) (copyCounts, error) {
	var n copyCounts
	tasks, err := src.AllTasks(ctx)
	if err != nil {
		return n, err
	}
	if err := checkQuiet(tasks, now); err != nil {
		return n, err
	}
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
		if len(d.Versions) == 0 {
			return n, fmt.Errorf("datastore %s (%s) has no version: the store interfaces cannot copy it", d.Name, d.ID)
		}
		for _, v := range d.Versions {
			got, err := dst.PutDatastoreVersion(ctx, v, v.ID == d.DefaultVersionID)
			if err != nil {
				return n, err
			}
			if got.ID != v.ID || got.DatastoreID != v.DatastoreID {
				return n, fmt.Errorf("datastore version %s %s got id %s/%s in the target, want %s/%s",
					d.Name, v.Name, got.DatastoreID, got.ID, v.DatastoreID, v.ID)
			}
		}
		n.Datastores++
	}
	params, err := src.ListParameters(ctx)
	if err != nil {
		return n, err
	}
	for _, p := range params {
		if err := dst.InsertParameters(ctx, p); err != nil {
			return n, err
		}
		n.Parameters++
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

	configs, err := src.ListConfigurations(ctx, "", store.Page{})
	if err != nil {
		return n, err
	}
	for _, c := range configs {
		if err := dst.CreateConfiguration(ctx, c); err != nil {
			return n, err
		}
		n.Configurations++
	}
	insts, err := src.ListInstances(ctx, "", store.Page{})
	if err != nil {
		return n, err
	}
	for _, inst := range insts {
		// Tasks follow on their own: an instance's unfinished task may
		// not be its only one.
		if err := dst.CreateInstance(ctx, inst, nil, nil); err != nil {
			return n, err
		}
		n.Instances++
	}
	groups, err := src.ListHAGroups(ctx, "")
	if err != nil {
		return n, err
	}
	for _, g := range groups {
		if err := dst.InsertHAGroup(ctx, g); err != nil {
			return n, err
		}
		n.HAGroups++
	}
	roots, err := src.ListRootHistory(ctx)
	if err != nil {
		return n, err
	}
	for _, r := range roots {
		if err := dst.RecordRootEnabled(ctx, r.InstanceID, r.UserID, r.Enabled); err != nil {
			return n, err
		}
		n.RootRecords++
	}
	// In claim order, so the target's runners take them in the same order.
	for _, t := range tasks {
		if t.State == model.TaskRunning {
			// Its lease ended (checkQuiet): what ReleaseLeases does.
			t.State, t.Owner, t.LeaseUntil = model.TaskPending, "", time.Time{}
		}
		if err := dst.InsertTask(ctx, t); err != nil {
			return n, err
		}
		n.Tasks++
		if t.State == model.TaskPending {
			n.Unfinished++
		}
	}

	backups, err := src.ListBackups(ctx, store.BackupFilter{}, 0, 0)
	if err != nil {
		return n, err
	}
	for _, b := range backups {
		if err := dst.InsertBackup(ctx, b); err != nil {
			return n, err
		}
		n.Backups++
	}
	schedules, err := src.ListSchedules(ctx, "")
	if err != nil {
		return n, err
	}
	for _, sc := range schedules {
		if err := dst.CreateSchedule(ctx, sc); err != nil {
			return n, err
		}
		n.Schedules++
	}
	settings, err := src.AllSettings(ctx)
	if err != nil {
		return n, err
	}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		got, err := dst.InitSetting(ctx, k, settings[k])
		if err != nil {
			return n, err
		}
		if got != settings[k] {
			return n, fmt.Errorf("setting %s is %q in the target, %q in the source", k, got, settings[k])
		}
		n.Settings++
	}
	quotas, err := src.AllProjectQuotas(ctx)
	if err != nil {
		return n, err
	}
	for _, p := range slices.Sorted(maps.Keys(quotas)) {
		if err := dst.SetProjectQuotas(ctx, p, quotas[p]); err != nil {
			return n, err
		}
		n.Quotas++
	}
	return n, nil
}

// checkQuiet refuses to copy while a task of the source runs under a lease
// that has not ended at now: a hoard still serves the source, and would go
// on changing it (and the instances) behind the copy.
func checkQuiet(tasks []*model.Task, now time.Time) error {
	for _, t := range tasks {
		if t.State == model.TaskRunning && t.LeaseUntil.After(now) {
			return fmt.Errorf("the source store is in use: task %s (%s of instance %s) is running, leased by %q until %s; "+
				"stop hoard first (a stopped hoard hands its tasks back), or, if it crashed, run again after the lease ends",
				t.ID, t.Kind, t.InstanceID, t.Owner, t.LeaseUntil.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// checkEmpty refuses a target that already holds a data set, or the
// catalogue a hoard seeds when it starts serving (datastore IDs would not
// match the copied instances').
func checkEmpty(ctx context.Context, dst store.Store) error {
	counts := []struct {
		what string
		n    func() (int, error)
	}{
		{"instances", func() (int, error) { return dst.CountInstances(ctx, "") }},
		{"projects", func() (int, error) { l, err := dst.ListProjects(ctx); return len(l), err }},
		{"users", func() (int, error) { l, err := dst.ListUsers(ctx); return len(l), err }},
		{"datastores", func() (int, error) { l, err := dst.ListDatastores(ctx); return len(l), err }},
		{"configuration groups", func() (int, error) {
			l, err := dst.ListConfigurations(ctx, "", store.Page{})
			return len(l), err
		}},
		{"HA groups", func() (int, error) { l, err := dst.ListHAGroups(ctx, ""); return len(l), err }},
		{"tasks", func() (int, error) { l, err := dst.AllTasks(ctx); return len(l), err }},
		{"backups", func() (int, error) { l, err := dst.ListBackups(ctx, store.BackupFilter{}, 0, 0); return len(l), err }},
		{"backup schedules", func() (int, error) { l, err := dst.ListSchedules(ctx, ""); return len(l), err }},
		{"settings", func() (int, error) { m, err := dst.AllSettings(ctx); return len(m), err }},
		{"project quotas", func() (int, error) { m, err := dst.AllProjectQuotas(ctx); return len(m), err }},
	}
	var held []string
	for _, c := range counts {
		n, err := c.n()
		if err != nil {
			return fmt.Errorf("count the target's %s: %w", c.what, err)
		}
		if n > 0 {
			held = append(held, fmt.Sprintf("%d %s", n, c.what))
		}
	}
	if len(held) > 0 {
		return fmt.Errorf("the target store is not empty (%s): copy into a new database, before any hoard serves it",
			strings.Join(held, ", "))
	}
	return nil
}
