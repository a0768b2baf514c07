package redis

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/engineproc"
)

// adminUser is hoard's own ACL user inside every instance.
const adminUser = "os_admin"

// serverProgram is the Redis server binary.
const serverProgram = "redis-server"

// fallbackDirs are searched after PATH when Config.BinDir is empty.
var fallbackDirs = []string{"/usr/bin", "/usr/local/bin", "/bin"}

// Config configures an [Engine].
type Config struct {
	// BinDir holds redis-server. Empty means: look it up in PATH, then in
	// /usr/bin and /usr/local/bin.
	BinDir string
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// ReplicaBrokenAfter is how long a replica's link to its source may
	// be down before ReplicaStatus reports it broken;
	// DefaultReplicaBrokenAfter if zero.
	ReplicaBrokenAfter time.Duration
}

// DefaultReplicaBrokenAfter is Config.ReplicaBrokenAfter's default: a
// replica retries its source every second, and a source hoard restarts is
// back within seconds, so a link down for 30 s (three of the source's
// ping periods) is one a tenant should see, not a blip.
const DefaultReplicaBrokenAfter = 30 * time.Second

// Engine is the Redis engine. It is safe for concurrent use.
type Engine struct {
	cfg Config
	log *slog.Logger

	params paramsCache // the catalogue, once discovered (config.go)
}

var (
	_ datastore.Engine    = (*Engine)(nil)
	_ datastore.Validator = (*Engine)(nil)
	_ datastore.Process   = process{}
)

// New returns a Redis engine.
func New(cfg Config) *Engine {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.ReplicaBrokenAfter <= 0 {
		cfg.ReplicaBrokenAfter = DefaultReplicaBrokenAfter
	}
	return &Engine{cfg: cfg, log: log.With("engine", "redis")}
}

// Name implements datastore.Engine.
func (e *Engine) Name() string { return "redis" }

// Datastores implements datastore.Engine.
func (e *Engine) Datastores() []string { return []string{"redis"} }

// DefaultPort implements datastore.Engine.
func (e *Engine) DefaultPort() int { return 6379 }

// AdminUser implements datastore.Engine.
func (e *Engine) AdminUser() string { return adminUser }

// Process implements datastore.Engine.
func (e *Engine) Process() datastore.Process { return process{e: e} }

// program returns the path of a program ("" when not found).
func (e *Engine) program(name string) string {
	return engineproc.Find(e.cfg.BinDir, name, fallbackDirs)
}

func (e *Engine) programOrName(name string) string {
	if p := e.program(name); p != "" {
		return p
	}
	return name
}

// Discover implements datastore.Engine. It runs `redis-server --version`;
// a missing binary gives datastore.ErrNotInstalled.
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
		return nil, fmt.Errorf("redis: discover: %w", err)
	}
	v, err := ParseVersion(out)
	if err != nil {
		return nil, err
	}
	e.log.Debug("discovered", "version", v.Version, "path", bin)
	return []datastore.Version{v}, nil
}

// versionRE finds the version in `redis-server --version` output, e.g.
// "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 ...".
var versionRE = regexp.MustCompile(`^Redis server v=(\d{1,4})\.(\d{1,4})\.(\d{1,4})(?:\s|$)`)

// ParseVersion parses the output of `redis-server --version` into a
// version whose Name is "major.minor" and Version "major.minor.patch".
func ParseVersion(out string) (datastore.Version, error) {
	m := versionRE.FindStringSubmatch(strings.TrimSpace(out))
	if m == nil {
		return datastore.Version{}, fmt.Errorf("redis: unrecognised version output %q", truncate(out, 120))
	}
	major, minor, patch := trimZeros(m[1]), trimZeros(m[2]), trimZeros(m[3])
	return datastore.Version{Name: major + "." + minor, Version: major + "." + minor + "." + patch}, nil
}

func trimZeros(s string) string {
	t := strings.TrimLeft(s, "0")
	if t == "" {
		return "0"
	}
	return t
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
