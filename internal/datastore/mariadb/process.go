package mariadb

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// ConfigFile is the name of the one configuration file Render produces,
// relative to Spec.ConfDir.
const ConfigFile = "my.cnf"

// socketName is the server socket inside Spec.RunDir.
const socketName = "mysqld.sock"

// Memory sizing. MariaDB allocates the buffer pool virtually and touches it
// only as data is read, so an idle instance stays near 100 MB RSS whatever
// the flavor (engines.md §2.5); the numbers follow the RAM a tenant pays
// for, not what a test machine holds.
const (
	// minBufferPoolMB is the smallest InnoDB buffer pool we configure;
	// 32M starts fast and is the size the timings in engines.md used.
	minBufferPoolMB = 32
	// bufferPoolPercent of the flavor RAM goes to the buffer pool: half,
	// leaving the rest for per-connection buffers, the OS page cache and
	// the server itself (with 512 MB RAM: 256M).
	bufferPoolPercent = 50
	// connsPerGB connections per started GB of flavor RAM, at least
	// minConnections and at most maxConnectionsCap: 100 for ≤1 GB,
	// 200 for 2 GB, ... 1000 from 10 GB on. A mostly idle MariaDB
	// connection costs about 1 MB with the default buffers.
	connsPerGB        = 100
	minConnections    = 100
	maxConnectionsCap = 1000
	// logFileMB keeps the redo log small so that init is quick and an
	// empty instance is small on disk (the 10.11 default is 100M).
	logFileMB = 48
	// maxRAMMB bounds Spec.RAMMB (16 TiB) so the arithmetic cannot overflow.
	maxRAMMB = 16 << 20
	// maxSocketPath is the longest Unix socket path (sun_path is 108 bytes
	// including the terminating NUL).
	maxSocketPath = 107
)

// bufferPoolMB returns innodb_buffer_pool_size in MB for a flavor's RAM.
func bufferPoolMB(ramMB int) int {
	return max(ramMB*bufferPoolPercent/100, minBufferPoolMB)
}

// maxConnections returns max_connections for a flavor's RAM.
func maxConnections(ramMB int) int {
	gb := (ramMB + 1023) / 1024
	return min(max(gb*connsPerGB, minConnections), maxConnectionsCap)
}

// process is the local process recipe; it implements datastore.Process.
type process struct{ e *Engine }

// safePathRE is what a path in my.cnf may consist of. Option files treat
// '#' and ';' as comment starts, '\' as an escape and strip surrounding
// blanks and quotes, so anything beyond this conservative set is refused
// rather than escaped.
var safePathRE = regexp.MustCompile(`^/[A-Za-z0-9._/+@,:-]*$`)

func checkPath(field, p string) error {
	if !safePathRE.MatchString(p) || filepath.Clean(p) != p {
		return fault.Errorf(fault.Invalid, "mariadb.render",
			"%s must be a clean absolute path of letters, digits and ._/+@,:-", field)
	}
	return nil
}

// checkSpec validates every Spec field that Render puts into my.cnf and
// returns the canonical listen address.
func checkSpec(spec datastore.Spec) (netip.Addr, error) {
	const op = "mariadb.render"
	for _, f := range []struct{ name, path string }{
		{"data dir", spec.DataDir},
		{"run dir", spec.RunDir},
		{"log dir", spec.LogDir},
		{"conf dir", spec.ConfDir},
		{"files dir", filesDir(spec)},
	} {
		if err := checkPath(f.name, f.path); err != nil {
			return netip.Addr{}, err
		}
	}
	if n := len(filepath.Join(spec.RunDir, socketName)); n > maxSocketPath {
		return netip.Addr{}, fault.Errorf(fault.Invalid, op,
			"socket path is %d bytes, longer than %d", n, maxSocketPath)
	}
	addr, err := netip.ParseAddr(spec.Address)
	if err != nil || addr.Zone() != "" {
		return netip.Addr{}, fault.New(fault.Invalid, op, "address must be an IP address without a zone")
	}
	if spec.Port < 1 || spec.Port > 65535 {
		return netip.Addr{}, fault.Errorf(fault.Invalid, op, "port %d out of range 1-65535", spec.Port)
	}
	if spec.RAMMB < 0 || spec.RAMMB > maxRAMMB {
		return netip.Addr{}, fault.Errorf(fault.Invalid, op, "RAM %d MB out of range 0-%d", spec.RAMMB, maxRAMMB)
	}
	return addr.Unmap(), nil
}

// Render implements datastore.Process. It returns one file, my.cnf, with a
// [client] section (so that the mariadb tools find the socket) and a
// [mariadbd] section. Every Spec value is validated first, so nothing in
// a Spec can add lines or comments to the file.
func (p process) Render(spec datastore.Spec) ([]datastore.File, error) {
	addr, err := checkSpec(spec)
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(spec.RunDir, socketName)
	port := strconv.Itoa(spec.Port)
	var b strings.Builder
	kv := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, v) }
	b.WriteString("[client]\n")
	kv("socket", sock)
	kv("port", port)
	kv("default-character-set", "utf8mb4")
	b.WriteString("\n[mariadbd]\n")
	kv("datadir", spec.DataDir)
	kv("port", port)
	kv("bind-address", addr.String())
	kv("socket", sock)
	kv("pid-file", filepath.Join(spec.RunDir, "mysqld.pid"))
	// Each server gets its own tmpdir: a starting mariadbd deletes every
	// #sql* file in its tmpdir, which would break other servers sharing /tmp.
	kv("tmpdir", spec.RunDir)
	kv("log-error", filepath.Join(spec.LogDir, "error.log"))
	// Accounts are matched by IP; no DNS lookups on connect.
	kv("skip-name-resolve", "1")
	// The hard limit on this host is 20000 and cannot be raised
	// (engines.md §0); asking for more only logs a warning.
	kv("open_files_limit", "20000")
	for _, t := range tunables(spec) {
		kv(t[0], t[1])
	}
	for _, r := range replicationSettings(spec) {
		kv(r[0], r[1])
	}
	// Tenants must not read files of the host through LOAD DATA LOCAL or
	// follow symbolic links out of the data directory; LOAD DATA INFILE,
	// LOAD_FILE() and SELECT ... INTO OUTFILE/DUMPFILE (root has FILE)
	// reach the instance's own files directory and nothing else.
	kv("local-infile", "0")
	kv("symbolic-links", "0")
	kv("secure_file_priv", filesDir(spec))
	// The guest logs (logs.go); a configuration group, below, may still
	// switch them.
	for _, l := range logLines(spec) {
		kv(l[0], l[1])
	}
	for _, t := range tlsSettings(spec) {
		kv(t[0], t[1])
	}
	files := []datastore.File{}
	if spec.AdminPassword != "" {
		// A tenant's root (ALL PRIVILEGES WITH GRANT OPTION) can change or
		// drop hoard's account; the server re-creates it before it accepts
		// connections at every start, so a restart repairs it.
		init, err := adminInit(spec)
		if err != nil {
			return nil, err
		}
		kv("init-file", filepath.Join(spec.ConfDir, adminInitFile))
		files = append(files, datastore.File{Name: adminInitFile, Content: init})
	}
	lines, err := configLines(spec.Config)
	if err != nil {
		return nil, err
	}
	if len(lines) > 0 {
		b.WriteString("# configuration group\n")
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	return append([]datastore.File{{Name: ConfigFile, Content: []byte(b.String())}}, files...), nil
}

// adminNameRE is what hoard's own account name may be.
var adminNameRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`)

// adminInitFile is the init-file Render writes beside my.cnf.
const adminInitFile = "admin-init.sql"

// filesDir is the directory of spec's server-side file import and export.
func filesDir(spec datastore.Spec) string {
	if spec.FilesDir != "" {
		return spec.FilesDir
	}
	return spec.RunDir
}

// adminInit returns the statements that give spec's admin account back
// its password (as a hash: the file holds no password), every privilege,
// no resource limits, no TLS requirement, no expiry and no lock.
func adminInit(spec datastore.Spec) ([]byte, error) {
	user := spec.AdminUser
	if user == "" {
		user = adminUser
	}
	if !adminNameRE.MatchString(user) {
		return nil, fault.New(fault.Invalid, "mariadb.render", "invalid administrative user name")
	}
	hash := quoteString(passwordHash(string(spec.AdminPassword)))
	var b strings.Builder
	// Not binlogged: the file runs at every start, on sources and replicas
	// alike. Logged on a source, each start would send the source's admin
	// password hash to its replicas (which may have an admin password of
	// their own); logged on a replica, it would add transactions of the
	// replica's own to its binary log that its source never had. The init
	// thread holds every privilege, so read_only does not stop it.
	b.WriteString("SET sql_log_bin = 0;\n")
	for _, host := range []string{"localhost", "%"} {
		acct := quoteAccount(user, host)
		fmt.Fprintf(&b, "CREATE USER IF NOT EXISTS %s IDENTIFIED BY PASSWORD %s;\n", acct, hash)
		fmt.Fprintf(&b, "ALTER USER %s IDENTIFIED BY PASSWORD %s REQUIRE NONE WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0 ACCOUNT UNLOCK PASSWORD EXPIRE NEVER;\n", acct, hash)
		fmt.Fprintf(&b, "GRANT ALL PRIVILEGES ON *.* TO %s WITH GRANT OPTION;\n", acct)
	}
	return []byte(b.String()), nil
}

// tunables are the sizing and behaviour settings of spec (name, value), in
// the order Render writes them; Defaults reports them too.
//
// The volume size is not enforced here: capping the InnoDB system
// tablespace (innodb_data_file_path ...:max:) makes MariaDB 10.11 abort
// when it fills instead of refusing the write, so enforcement belongs to the
// driver (a filesystem of the volume's size).
func tunables(spec datastore.Spec) [][2]string {
	return [][2]string{
		{"max_connections", strconv.Itoa(maxConnections(spec.RAMMB))},
		{"innodb_buffer_pool_size", strconv.Itoa(bufferPoolMB(spec.RAMMB)) + "M"},
		{"innodb_log_file_size", strconv.Itoa(logFileMB) + "M"},
		{"character-set-server", "utf8mb4"},
		{"collation-server", "utf8mb4_general_ci"},
	}
}

func configPath(spec datastore.Spec) string { return filepath.Join(spec.ConfDir, ConfigFile) }

// InitArgs implements datastore.Process. mariadb-install-db runs
// mariadbd --bootstrap; with the 'normal' method root@localhost (and
// root@127.0.0.1, root@::1, root@<hostname>) get an empty password, which
// Bootstrap then replaces. --defaults-file must be the first option.
func (p process) InitArgs(spec datastore.Spec) []string {
	return []string{
		p.e.programOrName(installProgram),
		"--defaults-file=" + configPath(spec),
		"--auth-root-authentication-method=normal",
		"--skip-test-db",
	}
}

// ServerArgs implements datastore.Process. With Config.RunAsRoot it adds
// --user=root, without which mariadbd refuses to start as root.
func (p process) ServerArgs(spec datastore.Spec) []string {
	args := []string{p.e.programOrName(serverProgram), "--defaults-file=" + configPath(spec)}
	if p.e.cfg.RunAsRoot {
		args = append(args, "--user=root")
	}
	return args
}

// StopSignal implements datastore.Process: SIGTERM makes mariadbd shut down
// cleanly (about 40 ms when idle).
func (p process) StopSignal() syscall.Signal { return syscall.SIGTERM }

// Socket implements datastore.Process.
func (p process) Socket(spec datastore.Spec) string { return filepath.Join(spec.RunDir, socketName) }
