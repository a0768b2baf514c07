package mariadb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/engineproc"
)

// Names of the MariaDB programs hoard runs.
const (
	serverProgram  = "mariadbd"
	installProgram = "mariadb-install-db"
)

// adminUser is hoard's own account inside every instance.
const adminUser = "os_admin"

// fallbackDirs are searched after PATH when Config.BinDir is empty; Debian
// puts mariadbd in /usr/sbin, which is not in every PATH.
var fallbackDirs = []string{"/usr/sbin", "/usr/bin"}

// Config configures an [Engine].
type Config struct {
	// BinDir holds mariadbd and mariadb-install-db. Empty means: look them
	// up in PATH, then in /usr/sbin and /usr/bin.
	BinDir string
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// RunAsRoot adds --user=root to the server command line. mariadbd
	// refuses to run as root without it; set it only when the driver runs
	// the server as root without switching to an instance user.
	RunAsRoot bool
}

// Engine is the MariaDB engine. It is safe for concurrent use.
type Engine struct {
	cfg Config
	log *slog.Logger

	versions engineproc.VersionCache // TemplateVersion (template.go)

	paramsMu sync.Mutex
	params   []datastore.Parameter // the catalogue, once discovered (config.go)
}

var (
	_ datastore.Engine  = (*Engine)(nil)
	_ datastore.Process = process{}
)

// New returns a MariaDB engine.
func New(cfg Config) *Engine {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Engine{cfg: cfg, log: log.With("engine", "mariadb")}
}

// Name implements datastore.Engine.
func (e *Engine) Name() string { return "mariadb" }

// Datastores implements datastore.Engine: "mysql" is the primary type, as
// MariaDB is what the "mysql" datastore runs on our hosts.
func (e *Engine) Datastores() []string { return []string{"mysql", "mariadb"} }

// DefaultPort implements datastore.Engine.
func (e *Engine) DefaultPort() int { return 3306 }

// AdminUser implements datastore.Engine.
func (e *Engine) AdminUser() string { return adminUser }

// Process implements datastore.Engine.
func (e *Engine) Process() datastore.Process { return process{e: e} }

// program returns the path of the named MariaDB program, or "" when it
// cannot be found.
func (e *Engine) program(name string) string {
	return engineproc.Find(e.cfg.BinDir, name, fallbackDirs)
}

// programOrName is program, falling back to the bare name so that a missing
// binary shows up as a clear exec error where the command is run.
func (e *Engine) programOrName(name string) string {
	if p := e.program(name); p != "" {
		return p
	}
	return name
}

// Discover implements datastore.Engine. It runs `mariadbd --version`; a
// missing binary gives datastore.ErrNotInstalled.
func (e *Engine) Discover(ctx context.Context) ([]datastore.Version, error) {
	bin := e.program(serverProgram)
	if bin == "" {
		return nil, datastore.ErrNotInstalled
	}
	out, err := engineproc.VersionOutput(ctx, bin)
	if err != nil {
		if engineproc.NotFound(err) {
			return nil, datastore.ErrNotInstalled
		}
		return nil, fmt.Errorf("mariadb: discover: %w", err)
	}
	v, err := ParseVersion(out)
	if err != nil {
		return nil, err
	}
	e.log.Debug("discovered", "version", v.Version, "path", bin)
	return []datastore.Version{v}, nil
}

// versionRE finds the version in `mariadbd --version` output, e.g.
// "mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64".
// Older servers print "mysqld  Ver 10.5.23-MariaDB ..." and that is accepted
// too; a MySQL server (no "-MariaDB") is not.
var versionRE = regexp.MustCompile(`\bVer\s+(\d{1,4})\.(\d{1,4})\.(\d{1,4})-MariaDB\b`)

// ParseVersion parses the output of `mariadbd --version` into a version
// whose Name is "major.minor" and Version "major.minor.patch".
func ParseVersion(out string) (datastore.Version, error) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return datastore.Version{}, fmt.Errorf("mariadb: unrecognised version output %q", truncate(out, 120))
	}
	major, minor, patch := trimZeros(m[1]), trimZeros(m[2]), trimZeros(m[3])
	return datastore.Version{
		Name:    major + "." + minor,
		Version: major + "." + minor + "." + patch,
	}, nil
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
