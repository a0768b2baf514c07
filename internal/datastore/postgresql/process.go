package postgresql

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// Names of the files Render produces, relative to Spec.ConfDir.
const (
	ConfigFile = "postgresql.conf"
	HBAFile    = "pg_hba.conf"
	IdentFile  = "pg_ident.conf"
)

// autoConfFile is where ALTER SYSTEM writes, in the data directory.
const autoConfFile = "postgresql.auto.conf"

// Memory and connection sizing from the flavor RAM.
const (
	// minSharedBuffersMB is the smallest shared_buffers; 32MB starts
	// fast and is what engines.md timed.
	minSharedBuffersMB = 32
	// sharedBuffersPercent of the flavor RAM is shared_buffers, the usual
	// PostgreSQL advice (the OS page cache does the rest).
	sharedBuffersPercent = 25
	// effectiveCachePercent is the planner's guess of the cache size.
	effectiveCachePercent = 75
	minEffectiveCacheMB   = 64
	// connsPerGB connections per started GB, between minConnections and
	// maxConnectionsCap: each backend is a process of a few MB.
	connsPerGB        = 100
	minConnections    = 100
	maxConnectionsCap = 500
	// maxRAMMB bounds Spec.RAMMB (16 TiB) so the arithmetic cannot overflow.
	maxRAMMB = 16 << 20
	// maxSocketPath is the longest Unix socket path.
	maxSocketPath = 107
)

// Replication (see replication.go). Every server is rendered ready to be a
// source: a replica needs nothing from its source but the replication
// account (PrepareSource) and a wal sender, and any server may become a
// source after the fact (a promoted replica, a backup seeding a replica).
const (
	// maxWalSenders is how many replicas (and pg_basebackup runs) may
	// stream at once; a standby needs at least its source's value, and
	// every instance renders the same.
	maxWalSenders = 10
	// walKeepPercent of the volume is kept as WAL (wal_keep_size) behind
	// the current position, so that a replica can catch up after its
	// seed (WAL written between the backup and its first connection) or
	// after a while away; walKeep is bounded by minWalKeepMB (4 segments)
	// and maxWalKeepMB. A replica that falls further behind must be
	// seeded again. Replication slots would keep exactly what each
	// replica needs, but PrepareSource does not know the replica, and a
	// slot of a replica that is gone keeps WAL until someone drops it;
	// a bounded wal_keep_size needs no bookkeeping on the source.
	walKeepPercent = 10
	minWalKeepMB   = 64
	maxWalKeepMB   = 16 << 10
	// maxVolumeGB bounds Spec.VolumeGB (1 PiB) in the arithmetic.
	maxVolumeGB = 1 << 20
)

func sharedBuffersMB(ramMB int) int { return max(ramMB*sharedBuffersPercent/100, minSharedBuffersMB) }

func effectiveCacheMB(ramMB int) int {
	return max(ramMB*effectiveCachePercent/100, minEffectiveCacheMB)
}

// walKeepMB is wal_keep_size for a volume of volumeGB (0: unknown).
func walKeepMB(volumeGB int) int {
	gb := min(max(volumeGB, 0), maxVolumeGB)
	return min(max(gb*1024*walKeepPercent/100, minWalKeepMB), maxWalKeepMB)
}

func maxConnections(ramMB int) int {
	gb := (ramMB + 1023) / 1024
	return min(max(gb*connsPerGB, minConnections), maxConnectionsCap)
}

// process is the local process recipe.
type process struct{ e *Engine }

// safePathRE is what a path rendered into postgresql.conf may consist of;
// anything else (quotes, backslashes, blanks, '#') is refused rather than
// escaped.
var safePathRE = regexp.MustCompile(`^/[A-Za-z0-9._/+@,:-]*$`)

func checkSpec(spec datastore.Spec) (netip.Addr, error) {
	const op = "postgresql.render"
	for _, f := range []struct{ name, path string }{
		{"data dir", spec.DataDir}, {"run dir", spec.RunDir}, {"log dir", spec.LogDir}, {"conf dir", spec.ConfDir},
	} {
		if !safePathRE.MatchString(f.path) || filepath.Clean(f.path) != f.path {
			return netip.Addr{}, fault.Errorf(fault.Invalid, op,
				"%s must be a clean absolute path of letters, digits and ._/+@,:-", f.name)
		}
	}
	addr, err := netip.ParseAddr(spec.Address)
	if err != nil || addr.Zone() != "" {
		return netip.Addr{}, fault.New(fault.Invalid, op, "address must be an IP address without a zone")
	}
	if spec.Port < 1 || spec.Port > 65535 {
		return netip.Addr{}, fault.Errorf(fault.Invalid, op, "port %d out of range 1-65535", spec.Port)
	}
	if n := len(socketPath(spec)); n > maxSocketPath {
		return netip.Addr{}, fault.Errorf(fault.Invalid, op, "socket path is %d bytes, longer than %d", n, maxSocketPath)
	}
	if spec.RAMMB < 0 || spec.RAMMB > maxRAMMB {
		return netip.Addr{}, fault.Errorf(fault.Invalid, op, "RAM %d MB out of range 0-%d", spec.RAMMB, maxRAMMB)
	}
	return addr.Unmap(), nil
}

// setting is one managed server setting.
type setting struct{ name, value string }

// settings returns the managed settings for spec, in file order. Each is
// rendered into postgresql.conf and passed with -c (see the package doc).
func settings(spec datastore.Spec, addr netip.Addr) []setting {
	return append([]setting{
		{"listen_addresses", addr.String()},
		{"port", strconv.Itoa(spec.Port)},
		{"unix_socket_directories", spec.RunDir},
		{"unix_socket_permissions", "0770"},
		{"external_pid_file", filepath.Join(spec.RunDir, "postgres.pid")},
		{"hba_file", filepath.Join(spec.ConfDir, HBAFile)},
		{"ident_file", filepath.Join(spec.ConfDir, IdentFile)},
		{"max_connections", strconv.Itoa(maxConnections(spec.RAMMB))},
		{"shared_buffers", strconv.Itoa(sharedBuffersMB(spec.RAMMB)) + "MB"},
		{"effective_cache_size", strconv.Itoa(effectiveCacheMB(spec.RAMMB)) + "MB"},
		{"password_encryption", "scram-sha-256"},
		// The driver captures stderr into LogDir/server.log; the
		// general log (logs.go) turns the collector on.
		{"log_destination", "stderr"},
		{"dynamic_shared_memory_type", "posix"},
		// Streaming replication (replication.go): every server can be a
		// source, and a replica answers reads.
		{"wal_level", "replica"},
		{"max_wal_senders", strconv.Itoa(maxWalSenders)},
		{"wal_keep_size", strconv.Itoa(walKeepMB(spec.VolumeGB)) + "MB"},
		{"hot_standby", "on"},
	}, append(logSettings(spec), tlsSettings(spec)...)...)
}

// confValue quotes a value for postgresql.conf; values come from settings,
// whose strings were checked by checkSpec (no quote or backslash).
func confValue(v string) string {
	if _, err := strconv.Atoi(v); err == nil {
		return v
	}
	return "'" + v + "'"
}

// Render implements datastore.Process: postgresql.conf with the managed
// settings (and, for a replica, primary_conninfo: see replicaLines),
// pg_hba.conf (see the package doc) and an empty pg_ident.conf.
func (p process) Render(spec datastore.Spec) ([]datastore.File, error) {
	addr, err := checkSpec(spec)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("# Written by hoard; the server cannot change it. Every setting here is\n" +
		"# also passed on the command line, so ALTER SYSTEM cannot override it.\n")
	for _, s := range settings(spec, addr) {
		fmt.Fprintf(&b, "%s = %s\n", s.name, confValue(s.value))
	}
	replica, err := replicaLines(spec)
	if err != nil {
		return nil, err
	}
	for _, l := range replica {
		b.WriteString(l + "\n")
	}
	group, err := confLines(spec.Config)
	if err != nil {
		return nil, err
	}
	if len(group) > 0 {
		// Later lines win; these are not passed with -c (ServerArgs), so
		// a reload applies changed dynamic ones.
		b.WriteString("# Configuration group.\n")
		for _, l := range group {
			b.WriteString(l + "\n")
		}
	}
	hba, err := hbaConf(spec, addr)
	if err != nil {
		return nil, err
	}
	return []datastore.File{
		{Name: ConfigFile, Content: []byte(b.String())},
		{Name: HBAFile, Content: []byte(hba)},
		{Name: IdentFile, Content: []byte("# Written by hoard; no user name maps.\n")},
	}, nil
}

// hbaHost is a "host" line of pg_hba.conf: any database, any role, from
// the network p, with a password.
func hbaHost(p netip.Prefix) string {
	return fmt.Sprintf("host    all          all       %-11s scram-sha-256\n", p.Masked())
}

// hbaConf renders pg_hba.conf for spec (see the package doc): the socket
// lines, the tenants' "host" lines and the replication line. Without
// AllowedSources the tenants' lines admit every address; with them, only
// those networks and the addresses hoard connects from on this host (see
// datastore.AccessReloader): 127.0.0.1, ::1 and the instance's own
// address addr.
func hbaConf(spec datastore.Spec, addr netip.Addr) (string, error) {
	var b strings.Builder
	b.WriteString("# Written by hoard. \"postgres\" (initdb's superuser) is trusted on the\n" +
		"# local socket only until Bootstrap makes it NOLOGIN.\n" +
		"# TYPE  DATABASE     USER      ADDRESS     METHOD\n" +
		"local   all          postgres              trust\n" +
		"local   all          all                   scram-sha-256\n" +
		"local   replication  all                   scram-sha-256\n")
	if len(spec.AllowedSources) == 0 {
		b.WriteString("# Clients from any address (the instance has no access list).\n")
		b.WriteString(hbaHost(netip.MustParsePrefix("0.0.0.0/0")))
		b.WriteString(hbaHost(netip.MustParsePrefix("::/0")))
	} else {
		b.WriteString("# hoard on this host: loopback and the instance's own address.\n")
		own := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
		if p := netip.PrefixFrom(addr, addr.BitLen()); !slices.Contains(own, p) {
			own = append(own, p)
		}
		for _, p := range own {
			b.WriteString(hbaHost(p))
		}
		b.WriteString("# The instance's allowed networks (access.allowed_cidrs).\n")
		for _, p := range spec.AllowedSources {
			if !p.IsValid() || p.Addr().Zone() != "" {
				return "", fault.Errorf(fault.Invalid, "postgresql.render", "allowed network %q is not a network prefix", p)
			}
			b.WriteString(hbaHost(p))
		}
	}
	b.WriteString("# Replicas stream from any address, as the replication role only.\n" +
		"host    replication  " + replicationUser + " all         scram-sha-256\n")
	return b.String(), nil
}

// InitArgs implements datastore.Process: initdb with the bootstrap
// superuser "postgres" (no password; see the package doc), UTF-8 and the
// C.UTF-8 locale. initdb's own pg_hba.conf in the data directory is not
// used (hba_file points to ConfDir).
func (p process) InitArgs(spec datastore.Spec) []string {
	return []string{
		p.e.program("initdb"),
		"--pgdata=" + spec.DataDir,
		"--username=" + bootstrapUser,
		"--auth-local=trust",
		"--auth-host=scram-sha-256",
		"--encoding=UTF8",
		"--locale=C.UTF-8",
		"--no-instructions",
	}
}

// ServerArgs implements datastore.Process: postgres in the foreground with
// hoard's postgresql.conf and every managed setting again as -c, so that
// nothing in postgresql.auto.conf can override them. A managed setting
// that the configuration group sets (shared_buffers, max_connections,
// effective_cache_size) is left to the file, where the group's value
// follows hoard's, so that a reload can change a dynamic one.
func (p process) ServerArgs(spec datastore.Spec) []string {
	args := []string{p.e.program("postgres"), "-D", spec.DataDir,
		"-c", "config_file=" + filepath.Join(spec.ConfDir, ConfigFile)}
	addr, err := checkSpec(spec)
	if err != nil {
		return args // Render refused this spec already; postgres will say
	}
	for _, s := range settings(spec, addr) {
		if _, ok := spec.Config[s.name]; ok {
			continue
		}
		args = append(args, "-c", s.name+"="+s.value)
	}
	return args
}

// StopSignal implements datastore.Process: SIGINT is PostgreSQL's fast
// shutdown (SIGTERM would wait for every client to disconnect).
func (p process) StopSignal() syscall.Signal { return syscall.SIGINT }

// Socket implements datastore.Process; PostgreSQL names the socket after
// the port inside unix_socket_directories.
func (p process) Socket(spec datastore.Spec) string { return socketPath(spec) }

func socketPath(spec datastore.Spec) string {
	return filepath.Join(spec.RunDir, ".s.PGSQL."+strconv.Itoa(spec.Port))
}

// Prepare implements datastore.Preparer: it removes postgresql.auto.conf so
// that ALTER SYSTEM values do not survive a restart (see the package doc),
// and for a replica (spec.ReplicaOf set) makes sure standby.signal exists,
// so that the server starts as a standby (see ensureStandbySignal), and
// writes the password file of primary_conninfo (writeReplicaPassFile;
// without ReplicaOf it is removed). Without ReplicaOf it leaves
// standby.signal alone: promotion removes it, and removing it from a
// standby that still follows its source would start a diverging primary.
// os.Remove does not follow a symbolic link in the last element.
func (p process) Prepare(spec datastore.Spec) error {
	if !filepath.IsAbs(spec.DataDir) {
		return fault.New(fault.Invalid, "postgresql.prepare", "data dir must be absolute")
	}
	err := os.Remove(filepath.Join(spec.DataDir, autoConfFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("postgresql: prepare: %w", err)
	}
	if spec.ReplicaOf != nil {
		if err := ensureStandbySignal(spec.DataDir); err != nil {
			return fmt.Errorf("postgresql: prepare: %w", err)
		}
	}
	if spec.RunDir != "" {
		if !filepath.IsAbs(spec.RunDir) {
			return fault.New(fault.Invalid, "postgresql.prepare", "run dir must be absolute")
		}
		if err := writeReplicaPassFile(spec); err != nil {
			return fmt.Errorf("postgresql: prepare: %w", err)
		}
	}
	return nil
}
