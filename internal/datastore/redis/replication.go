package redis

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// This file implements datastore.Replicator with Redis's own asynchronous
// replication: a replica runs with replicaof, masteruser and masterauth in
// its redis.conf (Render) and logs in to its source as the ACL user
// os_replicator, which may run only what a replica sends (PING, REPLCONF,
// PSYNC). Redis makes the first full synchronisation by itself when it
// connects; the restored backup only gives the replica the source's ACL
// users (and the data until the sync replaces it). ACL users are not
// replicated: later user changes on the source do not reach a replica.
//
// On a replica, tenant users and root lose CONFIG GET and CONFIG SET (and
// root REPLICAOF and SLAVEOF), so that none of them can make it writable
// (CONFIG SET replica-read-only no, REPLICAOF NO ONE) nor read the
// replication password (CONFIG GET masterauth); Promote gives them back.

var (
	_ datastore.Replicator = (*Engine)(nil)
	_ datastore.Preparer   = process{}
)

// replUser is the ACL user replicas log in to a source as (masteruser).
const replUser = "os_replicator"

// replRules are replUser's rules after "reset": the commands a replica
// sends its source (AUTH needs no permission), as in the Redis
// documentation's replication user; no keys, no channels.
var replRules = []string{"+psync", "+replconf", "+ping"}

// replicaDeny are added after the rules of tenant users and root on a
// replica: CONFIG GET would reveal masterauth, CONFIG SET could turn
// replica-read-only off, and REPLICAOF or SLAVEOF NO ONE (root's, tenants
// lack @admin anyway) would make the replica writable.
var replicaDeny = []string{"-config|get", "-config|set", "-replicaof", "-slaveof"}

// pingPeriod is the most seconds a source stays silent to a connected
// replica: it PINGs its replicas every repl-ping-replica-period (Redis's
// default 10, which hoard does not change).
const pingPeriod = 10

// linkPoll is how often StartReplica looks at the link to the source, and
// how often a command the server refused with LOADING is tried again.
const linkPoll = 50 * time.Millisecond

// maxACLFile bounds the aclfile Prepare reads.
const maxACLFile = 64 << 20

// hostnameRE is a DNS host name (labels of letters, digits and inner
// hyphens), what replicaof may name besides an IP address.
var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// ReplicationUser implements datastore.Replicator.
func (e *Engine) ReplicationUser() string { return replUser }

// PrepareSource implements datastore.Replicator: the ACL user
// os_replicator, reset with the hash of password and replRules (so a
// repeat sets the password again), saved to the aclfile. ACL users are not
// per host: it may log in from anywhere the server listens.
func (e *Engine) PrepareSource(ctx context.Context, c datastore.Conn, password datastore.Secret) error {
	if err := ValidatePassword(string(password)); err != nil {
		return err
	}
	cl, err := admin(ctx, c)
	if err != nil {
		return err
	}
	defer cl.Close()
	args := append([]string{"ACL", "SETUSER", replUser, "reset", "on", hashedPassword(password)}, replRules...)
	if _, err := cl.do(ctx, args...); err != nil {
		return fmt.Errorf("redis: prepare source: %w", err)
	}
	if err := save(ctx, cl, "prepare source"); err != nil {
		return err
	}
	e.log.Debug("replication user ready", "user", replUser)
	return nil
}

// StartReplica implements datastore.Replicator. On the running replica at
// c it first gives tenant users and root the replica's rules (replicaDeny,
// saved), then sets masteruser, masterauth and replica-read-only yes with
// CONFIG SET where they differ from src (a server rendered before
// ReplicaOf was set, or with another password), then REPLICAOF src unless
// the server already follows it, and waits until INFO replication shows
// role:slave of src with master_link_status:up. Redis makes the first
// synchronisation itself (a full one replaces the restored data); meta is
// only checked to be a Redis backup's. It waits as long as ctx allows.
func (e *Engine) StartReplica(ctx context.Context, c datastore.Conn, meta map[string]string, src datastore.ReplicaSource) error {
	const op = "redis.start_replica"
	host, err := checkSource(op, src, true)
	if err != nil {
		return err
	}
	if f := meta[MetaFormat]; f != "" && f != FormatRDBTar {
		return fault.Errorf(fault.Invalid, op, "the replica was seeded from a backup of format %.40q, not %s", f, FormatRDBTar)
	}
	cl, err := admin(ctx, c)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := e.follow(ctx, cl, c.User, host, src, false); err != nil {
		return fmt.Errorf("redis: start replica: %w", err)
	}
	return nil
}

// follow makes the server cl is connected to (as the admin skip) a
// replica of src at host: tenant users and root get the replica's rules
// (replicaDeny, saved), masteruser, masterauth and replica-read-only yes
// are set with CONFIG SET where they differ from src, REPLICAOF runs
// unless the server already follows src, then, when unpause, CLIENT
// UNPAUSE lifts a fence (Fence): only now, so that no write a fence held
// back runs before the server is a read-only replica, and before waiting,
// since a pause would hold back what the source sends too. It waits until
// INFO replication shows role:slave of src with master_link_status:up, as
// long as ctx allows. Errors never hold the password.
func (e *Engine) follow(ctx context.Context, cl *client, skip, host string, src datastore.ReplicaSource, unpause bool) error {
	if err := setRoleRules(ctx, cl, skip, true); err != nil {
		return err
	}
	v, err := doLoaded(ctx, cl, "CONFIG", "GET", "masteruser", "masterauth", "replica-read-only")
	if err != nil {
		return err
	}
	cur, err := pairs(v)
	if err != nil {
		return err
	}
	if cur["masteruser"] != src.User || subtle.ConstantTimeCompare([]byte(cur["masterauth"]), []byte(src.Password)) != 1 ||
		cur["replica-read-only"] != "yes" {
		if _, err := doLoaded(ctx, cl, "CONFIG", "SET", "masteruser", src.User, "masterauth", string(src.Password),
			"replica-read-only", "yes"); err != nil {
			return err
		}
		e.log.Debug("replica credentials set", "user", src.User)
	}
	info, err := replicationInfo(ctx, cl)
	if err != nil {
		return err
	}
	if !following(info, host, src.Port) {
		if _, err := doLoaded(ctx, cl, "REPLICAOF", host, strconv.Itoa(src.Port)); err != nil {
			return err
		}
		e.log.Debug("replica of", "host", host, "port", src.Port)
	}
	if unpause {
		if _, err := doLoaded(ctx, cl, "CLIENT", "UNPAUSE"); err != nil {
			return err
		}
	}
	for {
		if following(info, host, src.Port) && info["master_link_status"] == "up" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no link to the source %s:%d yet (master_link_status %.20q): %w",
				host, src.Port, info["master_link_status"], ctx.Err())
		case <-time.After(linkPoll):
		}
		if info, err = replicationInfo(ctx, cl); err != nil {
			return err
		}
	}
}

// ReplicaStatus implements datastore.Replicator from INFO replication:
// role:master is datastore.ErrNotReplica; a replica is running while
// master_link_status is up, else connecting, or broken once the link has
// been down for Config.ReplicaBrokenAfter (see replicaStatus). Redis
// retries by itself, so a broken replica runs again when its source is
// back. Redis 7.0 reports no replication error there, so Error says only
// that the link is down and for how long; lagSeconds estimates the lag.
func (e *Engine) ReplicaStatus(ctx context.Context, c datastore.Conn) (datastore.ReplicaStatus, error) {
	cl, err := admin(ctx, c)
	if err != nil {
		return datastore.ReplicaStatus{}, err
	}
	defer cl.Close()
	info, err := replicationInfo(ctx, cl)
	if err != nil {
		return datastore.ReplicaStatus{}, fmt.Errorf("redis: replica status: %w", err)
	}
	uptime := -1
	if info["role"] == "slave" && info["master_link_status"] != "up" && info["master_link_down_since_seconds"] == "-1" {
		// Down since it became a replica: as long as it has run at most.
		v, err := cl.do(ctx, "INFO", "server")
		if err != nil {
			return datastore.ReplicaStatus{}, fmt.Errorf("redis: replica status: %w", err)
		}
		if s, ok := v.(string); ok {
			if n, err := strconv.Atoi(ParseInfo(s)["uptime_in_seconds"]); err == nil {
				uptime = n
			}
		}
	}
	return replicaStatus(info, uptime, e.cfg.ReplicaBrokenAfter)
}

// replicaStatus is ReplicaStatus of a server whose INFO replication is
// info and whose INFO server says it has run uptime seconds (-1 unknown).
// A replica whose link is down is broken once it has been down for
// brokenAfter: master_link_down_since_seconds, or, where that is -1 (the
// link has not been up since the server started or since REPLICAOF), its
// uptime, which overstates it only after a REPLICAOF at runtime (hoard's
// StartReplica and Follow then wait for the link anyway). A first
// synchronisation under way (master_sync_in_progress:1, a large data set
// being transferred) is connecting however long it takes.
func replicaStatus(info map[string]string, uptime int, brokenAfter time.Duration) (datastore.ReplicaStatus, error) {
	switch role := info["role"]; role {
	case "master":
		return datastore.ReplicaStatus{}, datastore.ErrNotReplica
	case "slave":
	default:
		return datastore.ReplicaStatus{}, fmt.Errorf("redis: replica status: %w: role %.20q", errProtocol, role)
	}
	if info["master_link_status"] != "up" {
		connecting := datastore.ReplicaStatus{State: datastore.ReplicaConnecting, LagSeconds: -1}
		if info["master_sync_in_progress"] == "1" {
			return connecting, nil
		}
		down, err := strconv.Atoi(info["master_link_down_since_seconds"])
		if err != nil {
			return connecting, nil // an older Redis, or not said: cannot tell
		}
		if down < 0 {
			down = uptime
		}
		if down < 0 || time.Duration(down)*time.Second < brokenAfter {
			return connecting, nil
		}
		return datastore.ReplicaStatus{State: datastore.ReplicaBroken, LagSeconds: -1,
			Error: fmt.Sprintf("The link to the source %s port %s has been down for %d seconds; the replica keeps retrying.",
				truncate(info["master_host"], 255), truncate(info["master_port"], 10), down)}, nil
	}
	return datastore.ReplicaStatus{State: datastore.ReplicaRunning, LagSeconds: lagSeconds(info)}, nil
}

// lagSeconds estimates, from the INFO replication of a replica whose link
// is up, how many seconds it is behind its source. A replica does not
// know its source's offset; it knows when it last heard from it
// (master_last_io_seconds_ago) and whether it applied everything it read
// (slave_read_repl_offset, Redis 7, against slave_repl_offset). The source
// sends changes at once and PINGs at least every pingPeriod seconds, so a
// replica that heard from it within that and applied all it read is
// current (0); otherwise it is behind by up to the seconds since it last
// heard from the source. -1 when INFO does not tell.
func lagSeconds(info map[string]string) float64 {
	io, err := strconv.Atoi(info["master_last_io_seconds_ago"])
	if err != nil || io < 0 {
		return -1
	}
	read, applied := info["slave_read_repl_offset"], info["slave_repl_offset"]
	if io <= pingPeriod && (read == "" || read == applied) {
		return 0
	}
	return float64(io)
}

// Promote implements datastore.Replicator: REPLICAOF NO ONE if the server
// follows a source (it then accepts writes at once, keeping its data),
// then masteruser and masterauth are emptied (the replication password
// would otherwise stay in the running configuration) and tenant users and
// root get their source rules back (saved). A server that follows no
// source keeps its data and role; the rest is a repeat that changes
// nothing, so that a Promote interrupted half-way can be run again.
func (e *Engine) Promote(ctx context.Context, c datastore.Conn) error {
	cl, err := admin(ctx, c)
	if err != nil {
		return err
	}
	defer cl.Close()
	info, err := replicationInfo(ctx, cl)
	if err != nil {
		return fmt.Errorf("redis: promote: %w", err)
	}
	if info["role"] != "master" {
		if _, err := doLoaded(ctx, cl, "REPLICAOF", "NO", "ONE"); err != nil {
			return fmt.Errorf("redis: promote: %w", err)
		}
		e.log.Debug("promoted", "was_replica_of", info["master_host"])
	}
	if _, err := doLoaded(ctx, cl, "CONFIG", "SET", "masteruser", "", "masterauth", ""); err != nil {
		return fmt.Errorf("redis: promote: %w", err)
	}
	if err := setRoleRules(ctx, cl, c.User, false); err != nil {
		return fmt.Errorf("redis: promote: %w", err)
	}
	return nil
}

// Prepare implements datastore.Preparer. It runs seedAOF. For a replica (spec.ReplicaOf
// set) it makes sure, before the server reads its aclfile, that the line
// of every tenant user and of root ends with replicaDeny: a users.acl
// restored from a source's backup has their source rules, and StartReplica
// changes them only once the server runs, when a tenant may already be
// connected. Lines that end with them already are left alone, and so is
// the file of any other server.
func (p process) Prepare(spec datastore.Spec) error {
	if _, err := checkSpec(spec); err != nil {
		return err
	}
	if err := seedAOF(spec.DataDir); err != nil {
		return fmt.Errorf("redis: prepare the append-only file: %w", err)
	}
	if spec.ReplicaOf == nil {
		return nil
	}
	if err := restrictACLFile(filepath.Join(spec.DataDir, aclName)); err != nil {
		return fmt.Errorf("redis: prepare the users of a replica: %w", err)
	}
	return nil
}

// restrictACLFile applies restrictACL to the aclfile at path (none is
// fine), replacing it whole with the same owner and mode when it changes.
// Nothing is followed if path is a symbolic link.
func restrictACLFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxACLFile {
		return fmt.Errorf("%s is not a regular file of at most %d bytes", aclName, maxACLFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxACLFile+1))
	if err != nil {
		return err
	}
	out, changed := restrictACL(data)
	if !changed {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: no owner", aclName)
	}
	return replaceFile(path, out, fi.Mode().Perm(), int(st.Uid), int(st.Gid))
}

// restrictACL appends replicaDeny to the "user" line of every tenant user
// and root in an aclfile's content that does not end with it already;
// changed tells whether any did not. Redis applies a line's rules in
// order, so the appended ones win; ACL SAVE may later write them merged.
func restrictACL(data []byte) (out []byte, changed bool) {
	suffix := " " + strings.Join(replicaDeny, " ")
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "user" || !tenantOrRoot(f[1]) {
			continue
		}
		l = strings.TrimRight(l, " \t\r")
		if strings.HasSuffix(l, suffix) {
			continue
		}
		lines[i] = l + suffix
		changed = true
	}
	return []byte(strings.Join(lines, "\n")), changed
}

// replaceFile replaces path atomically (a new file in the same directory,
// synced, renamed over it) with data, mode perm and owner uid:gid.
func replaceFile(path string, data []byte, perm os.FileMode, uid, gid int) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = func() error {
		if uid != os.Geteuid() || gid != os.Getegid() {
			if err := f.Chown(uid, gid); err != nil {
				return err
			}
		}
		if err := f.Chmod(perm); err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			return err
		}
		return f.Sync()
	}()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// tenantOrRoot reports whether an ACL user is a tenant user or root, whose
// rules hoard sets (tenantRules, rootRules), rather than hoard's own
// accounts or the default user.
func tenantOrRoot(name string) bool { return name == rootUser || !hiddenUser(name) }

// roleExtra returns the rules a tenant user or root gets on this server,
// after its own: replicaDeny on a replica, none on a source.
func roleExtra(ctx context.Context, cl *client) ([]string, error) {
	info, err := replicationInfo(ctx, cl)
	if err != nil {
		return nil, err
	}
	if info["role"] == "slave" {
		return replicaDeny, nil
	}
	return nil, nil
}

// setRoleRules sets the rules of every tenant user and root (but skip, the
// connected admin) to their own (tenantRules, rootRules), with replicaDeny
// after them when replica, without touching passwords or on/off, and
// saves the ACLs.
func setRoleRules(ctx context.Context, cl *client, skip string, replica bool) error {
	v, err := doLoaded(ctx, cl, "ACL", "USERS")
	if err != nil {
		return err
	}
	names, ok := v.([]any)
	if !ok && v != nil {
		return fmt.Errorf("%w: unexpected ACL USERS reply", errProtocol)
	}
	for _, n := range names {
		name, ok := n.(string)
		if !ok || !tenantOrRoot(name) || name == skip {
			continue
		}
		rules := tenantRules
		if name == rootUser {
			rules = rootRules
		}
		args := append([]string{"ACL", "SETUSER", name, "clearselectors", "resetkeys", "resetchannels", "-@all"}, rules...)
		if replica {
			args = append(args, replicaDeny...)
		}
		if _, err := doLoaded(ctx, cl, args...); err != nil {
			return fmt.Errorf("set the rules of a user: %w", err)
		}
	}
	if _, err := doLoaded(ctx, cl, "ACL", "SAVE"); err != nil {
		return fmt.Errorf("save ACLs: %w", err)
	}
	return nil
}

// doLoaded runs a command, and again while the server answers LOADING
// (it is reading a dataset, such as the one a source just sent), until
// ctx ends.
func doLoaded(ctx context.Context, cl *client, args ...string) (any, error) {
	for {
		v, err := cl.do(ctx, args...)
		if errCode(err) != "LOADING" {
			return v, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(linkPoll):
		}
	}
}

// replicationInfo returns the fields of INFO replication.
func replicationInfo(ctx context.Context, cl *client) (map[string]string, error) {
	v, err := cl.do(ctx, "INFO", "replication")
	if err != nil {
		return nil, err
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("%w: INFO replied with no text", errProtocol)
	}
	info := ParseInfo(s)
	if info["role"] == "" {
		return nil, fmt.Errorf("%w: INFO replication has no role", errProtocol)
	}
	return info, nil
}

// following reports whether INFO replication info shows a replica of
// host:port.
func following(info map[string]string, host string, port int) bool {
	return info["role"] == "slave" && info["master_host"] == host && info["master_port"] == strconv.Itoa(port)
}

// checkSource validates a replica's source and returns its host as
// replicaof names it: an IP address in its canonical form (IPv4-mapped
// IPv6 unmapped) or a DNS host name. The password may be empty only when
// needPassword is false (Render without the password, which the driver
// does not keep; StartReplica sets it at runtime). Errors never hold the
// password.
func checkSource(op string, src datastore.ReplicaSource, needPassword bool) (string, error) {
	var host string
	if a, err := netip.ParseAddr(src.Address); err == nil {
		if a.Zone() != "" {
			return "", fault.New(fault.Invalid, op, "the source address must be an IP address without a zone or a host name")
		}
		host = a.Unmap().String()
	} else if len(src.Address) <= 253 && hostnameRE.MatchString(src.Address) {
		host = src.Address
	} else {
		return "", fault.New(fault.Invalid, op, "the source address must be an IP address without a zone or a host name")
	}
	if src.Port < 1 || src.Port > 65535 {
		return "", fault.Errorf(fault.Invalid, op, "source port %d out of range 1-65535", src.Port)
	}
	if len(src.User) > maxUserName || !userNameRE.MatchString(src.User) {
		return "", fault.New(fault.Invalid, op, "the replication user name is not valid")
	}
	if src.Password != "" || needPassword {
		if err := ValidatePassword(string(src.Password)); err != nil {
			return "", fault.New(fault.Invalid, op, "the replication password must be 1-255 printable ASCII characters with no leading or trailing blank")
		}
	}
	return host, nil
}

// replicaLines are the redis.conf lines of a replica of src: replicaof,
// masteruser, masterauth (double-quoted, with \ and " escaped; left out
// when the password is empty) and replica-read-only yes.
func replicaLines(src datastore.ReplicaSource) ([]string, error) {
	host, err := checkSource("redis.render", src, false)
	if err != nil {
		return nil, err
	}
	lines := []string{"replicaof " + host + " " + strconv.Itoa(src.Port), "masteruser " + src.User}
	if src.Password != "" {
		lines = append(lines, "masterauth "+confQuote(string(src.Password)))
	}
	return append(lines, "replica-read-only yes"), nil
}

// confQuote quotes s for redis.conf, which splits lines into arguments
// as redis-cli does: in double quotes, a backslash escapes \ and ". s is
// printable ASCII (ValidatePassword), so nothing else needs escaping.
func confQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' || s[i] == '"' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// AccountsNotReplicated implements datastore.AccountsNotReplicated: ACL
// users are not replicated, so the service applies user changes to
// replicas itself.
func (*Engine) AccountsNotReplicated() {}
