package redis

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

// ConfigFile is the one file Render produces, relative to Spec.ConfDir.
const ConfigFile = "redis.conf"

// Names inside the instance directories.
const (
	socketName = "redis.sock"
	aclName    = "users.acl"
)

const (
	// maxmemoryPercent of the flavor RAM is maxmemory: Redis needs room
	// beyond its dataset for fork-on-save copy-on-write and buffers.
	maxmemoryPercent = 50
	minMaxmemoryMB   = 32
	maxRAMMB         = 16 << 20
	maxSocketPath    = 107
)

func maxmemoryMB(ramMB int) int { return max(ramMB*maxmemoryPercent/100, minMaxmemoryMB) }

type process struct{ e *Engine }

// safePathRE is what a path in redis.conf may consist of (Redis splits
// config lines on blanks and interprets quotes); anything else is refused.
var safePathRE = regexp.MustCompile(`^/[A-Za-z0-9._/+@,:-]*$`)

func checkSpec(spec datastore.Spec) (netip.Addr, error) {
	const op = "redis.render"
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
	if n := len(filepath.Join(spec.RunDir, socketName)); n > maxSocketPath {
		return netip.Addr{}, fault.Errorf(fault.Invalid, op, "socket path is %d bytes, longer than %d", n, maxSocketPath)
	}
	if spec.RAMMB < 0 || spec.RAMMB > maxRAMMB {
		return netip.Addr{}, fault.Errorf(fault.Invalid, op, "RAM %d MB out of range 0-%d", spec.RAMMB, maxRAMMB)
	}
	return addr.Unmap(), nil
}

// Render implements datastore.Process: redis.conf as in engines.md §2.3,
// with maxmemory from the flavor, noeviction, the append-only file on
// (appendfsync everysec), the aclfile in DataDir and,
// for a replica (spec.ReplicaOf), replicaof, masteruser, masterauth (the
// replication password: redis.conf is readable by hoard and the instance
// user only) and replica-read-only yes.
func (p process) Render(spec datastore.Spec) ([]datastore.File, error) {
	addr, err := checkSpec(spec)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	kv := func(k, v string) { fmt.Fprintf(&b, "%s %s\n", k, v) }
	b.WriteString("# Written by hoard; the server cannot rewrite it (CONFIG REWRITE fails).\n")
	kv("bind", addr.String())
	kv("protected-mode", "yes")
	kv("port", strconv.Itoa(spec.Port))
	kv("unixsocket", filepath.Join(spec.RunDir, socketName))
	kv("unixsocketperm", "700")
	kv("pidfile", filepath.Join(spec.RunDir, "redis.pid"))
	kv("daemonize", "no")
	kv("supervised", "no")
	kv("logfile", filepath.Join(spec.LogDir, "redis.log"))
	kv("dir", spec.DataDir)
	kv("dbfilename", "dump.rdb")
	kv("save", "3600 1 300 100 60 10000")
	// Durable by default, as managed Redis services are: every write goes
	// to the append-only file, fsynced once a second, so a crash of the
	// server or the host loses at most the last second (a configuration
	// group may set appendfsync to always or no). The RDB save points stay:
	// backups are RDB snapshots (backup.go).
	kv("appendonly", "yes")
	kv("appendfsync", "everysec")
	kv("aof-use-rdb-preamble", "yes")
	kv("maxmemory", strconv.Itoa(maxmemoryMB(spec.RAMMB))+"mb")
	kv("maxmemory-policy", "noeviction")
	kv("aclfile", filepath.Join(spec.DataDir, aclName))
	// Any server may become a replica's source: send a replica the
	// snapshot at once instead of waiting 5 s for more to come (hoard
	// adds replicas one at a time).
	kv("repl-diskless-sync-delay", "0")
	// Tenants may CONFIG SET; these stay off so that dir, dbfilename and
	// the like cannot be pointed elsewhere (Redis 7 default, made explicit).
	kv("enable-protected-configs", "no")
	kv("enable-debug-command", "no")
	kv("enable-module-command", "no")
	for _, l := range tlsLines(spec) {
		b.WriteString(l + "\n")
	}
	if spec.ReplicaOf != nil {
		lines, err := replicaLines(*spec.ReplicaOf)
		if err != nil {
			return nil, err
		}
		b.WriteString("# A read-only replica (replication.go).\n")
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	group, err := configLines(spec.Config)
	if err != nil {
		return nil, err
	}
	if len(group) > 0 {
		// Later lines win over hoard's (maxmemory-policy).
		b.WriteString("# Configuration group.\n")
		for _, l := range group {
			b.WriteString(l + "\n")
		}
	}
	return []datastore.File{{Name: ConfigFile, Content: []byte(b.String())}}, nil
}

// InitArgs implements datastore.Process: Redis needs no init, but refuses
// to start when its aclfile is missing; touch creates it empty, owned by
// the instance user so that ACL SAVE can replace it.
func (p process) InitArgs(spec datastore.Spec) []string {
	touch := p.e.program("touch")
	if touch == "" {
		touch = "/usr/bin/touch"
	}
	return []string{touch, filepath.Join(spec.DataDir, aclName)}
}

// ServerArgs implements datastore.Process.
func (p process) ServerArgs(spec datastore.Spec) []string {
	return []string{p.e.programOrName(serverProgram), filepath.Join(spec.ConfDir, ConfigFile)}
}

// StopSignal implements datastore.Process: on SIGTERM Redis saves an RDB
// snapshot (save points are set) and exits.
func (p process) StopSignal() syscall.Signal { return syscall.SIGTERM }

// Socket implements datastore.Process.
func (p process) Socket(spec datastore.Spec) string { return filepath.Join(spec.RunDir, socketName) }
