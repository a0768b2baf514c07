package postgresql

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/engineproc"
)

// adminUser is hoard's own role inside every instance.
const adminUser = "os_admin"

// bootstrapUser is the superuser initdb creates; Bootstrap makes it NOLOGIN.
const bootstrapUser = "postgres"

// DefaultBinRoot is where Debian installs the PostgreSQL majors, each in
// <root>/<major>/bin.
const DefaultBinRoot = "/usr/lib/postgresql"

// Config configures an [Engine].
type Config struct {
	// BinRoot holds one directory per installed major, each with a bin/
	// holding postgres and initdb; DefaultBinRoot if empty.
	BinRoot string
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// ReplicaBrokenAfter is how long a standby may go without streaming
	// from its source before ReplicaStatus reports it broken;
	// DefaultReplicaBrokenAfter if zero.
	ReplicaBrokenAfter time.Duration
}

// Engine is the PostgreSQL engine. It is safe for concurrent use.
type Engine struct {
	cfg Config
	log *slog.Logger

	versions engineproc.VersionCache // TemplateVersion (template.go)
	watch    receiverWatch           // ReplicaStatus (replica_health.go)
	now      func() time.Time        // time.Now; tests move it
}

var (
	_ datastore.Engine    = (*Engine)(nil)
	_ datastore.Validator = (*Engine)(nil)
	_ datastore.Process   = process{}
	_ datastore.Preparer  = process{}
)

// New returns a PostgreSQL engine.
func New(cfg Config) *Engine {
	if cfg.BinRoot == "" {
		cfg.BinRoot = DefaultBinRoot
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.ReplicaBrokenAfter <= 0 {
		cfg.ReplicaBrokenAfter = DefaultReplicaBrokenAfter
	}
	return &Engine{cfg: cfg, log: log.With("engine", "postgresql"), now: time.Now}
}

// Name implements datastore.Engine.
func (e *Engine) Name() string { return "postgresql" }

// Datastores implements datastore.Engine.
func (e *Engine) Datastores() []string { return []string{"postgresql"} }

// DefaultPort implements datastore.Engine.
func (e *Engine) DefaultPort() int { return 5432 }

// AdminUser implements datastore.Engine.
func (e *Engine) AdminUser() string { return adminUser }

// Process implements datastore.Engine.
func (e *Engine) Process() datastore.Process { return process{e: e} }

// binDirs returns the bin directories of the installed majors that have a
// postgres and an initdb, newest major first.
func (e *Engine) binDirs() []string {
	entries, err := os.ReadDir(e.cfg.BinRoot)
	if err != nil {
		return nil
	}
	type major struct {
		n   int
		dir string
	}
	var ms []major
	for _, ent := range entries {
		n, err := strconv.Atoi(ent.Name())
		if err != nil || n <= 0 {
			continue
		}
		dir := filepath.Join(e.cfg.BinRoot, ent.Name(), "bin")
		if engineproc.IsExecutable(filepath.Join(dir, "postgres")) && engineproc.IsExecutable(filepath.Join(dir, "initdb")) {
			ms = append(ms, major{n, dir})
		}
	}
	slices.SortFunc(ms, func(a, b major) int { return b.n - a.n })
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.dir
	}
	return out
}

// program returns the path of a program of the newest installed major
// (instances run on it: a Spec does not name a version), or the bare name
// so that a missing binary shows up as a clear exec error.
func (e *Engine) program(name string) string {
	if dirs := e.binDirs(); len(dirs) > 0 {
		return filepath.Join(dirs[0], name)
	}
	return name
}

// Discover implements datastore.Engine. It runs `postgres --version` of the
// newest installed major (the one instances run on); no installed major
// gives datastore.ErrNotInstalled.
func (e *Engine) Discover(ctx context.Context) ([]datastore.Version, error) {
	dirs := e.binDirs()
	if len(dirs) == 0 {
		return nil, datastore.ErrNotInstalled
	}
	bin := filepath.Join(dirs[0], "postgres")
	out, err := engineproc.VersionOutput(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("postgresql: discover: %w", err)
	}
	v, err := ParseVersion(out)
	if err != nil {
		return nil, err
	}
	e.log.Debug("discovered", "version", v.Version, "path", bin)
	return []datastore.Version{v}, nil
}

// versionRE finds the version in `postgres --version` output, e.g.
// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"; development
// builds print "16beta2" or "17devel", which are refused.
var versionRE = regexp.MustCompile(`^postgres \(PostgreSQL\) (\d{1,4})\.(\d{1,4})(?:[\s(]|$)`)

// ParseVersion parses the output of `postgres --version` into a version
// whose Name is the major ("15") and Version "major.minor" ("15.18").
func ParseVersion(out string) (datastore.Version, error) {
	m := versionRE.FindStringSubmatch(strings.TrimSpace(out))
	if m == nil {
		return datastore.Version{}, fmt.Errorf("postgresql: unrecognised version output %q", truncate(out, 120))
	}
	major, minor := trimZeros(m[1]), trimZeros(m[2])
	return datastore.Version{Name: major, Version: major + "." + minor}, nil
}

// trimZeros drops leading zeros from a decimal number ("010" → "10").
func trimZeros(s string) string {
	t := strings.TrimLeft(s, "0")
	if t == "" {
		return "0"
	}
	return t
}

// truncate cuts s to at most n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
