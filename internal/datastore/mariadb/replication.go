package mariadb

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// This file implements datastore.Replicator with MariaDB's asynchronous
// GTID replication:
//
//   - Every server writes a binary log (Render: log-bin in the data
//     directory, row format, a server_id derived from the instance id,
//     log_slave_updates so that a replica can later be a source), so any
//     instance can become a source without a restart.
//   - PrepareSource creates the replication account os_repl with
//     REPLICATION SLAVE only, and withholds the read-only bypass from the
//     tenant's accounts (see withholdReadOnlyBypass).
//   - A replica is restored from a Backup of the source, whose Meta
//     carries the source's GTID position at the backup (MetaGTIDPos), and
//     started with read_only=ON (Render with Spec.ReplicaOf).
//   - StartReplica sets gtid_slave_pos from that position, CHANGE MASTER
//     ... MASTER_USE_GTID=slave_pos and START SLAVE. The connection is
//     kept in the data directory (master.info, which holds the password:
//     that is how MariaDB keeps it), so the replica reconnects by itself
//     after a restart of either server.
//   - Promote lets the replica apply what it received, then STOP SLAVE,
//     RESET SLAVE ALL and SET GLOBAL read_only = OFF.
//
// Everything hoard changes on a replica runs with sql_log_bin = 0, so the
// replica's binary log holds only its source's transactions.

var _ datastore.Replicator = (*Engine)(nil)

// replUser is the account replicas log in to their source with; reserved
// like adminUser (validate.go).
const replUser = "os_repl"

// Binary and relay log settings.
const (
	// binlogBase and relayLogBase are relative, so the logs live in the
	// data directory (on the instance's volume) and their index files hold
	// relative names that survive a move of the directory. mariadb-backup
	// copies neither.
	binlogBase   = "mariadb-bin"
	relayLogBase = "relay-bin"
	// binlogExpireSeconds bounds how long binary logs are kept: a day. A
	// replica disconnected for longer has lost what it needs and breaks
	// (its source answers error 1236); it must be made again.
	binlogExpireSeconds = 24 * 60 * 60
	// maxBinlogSizeMB is the size at which the server starts a new binary
	// log. Expired logs are purged only when one is started, so small files
	// keep the volume near what a day of changes takes.
	maxBinlogSizeMB = 64
	// connectRetrySeconds is how long a replica waits between attempts to
	// reach its source (MASTER_CONNECT_RETRY, 60 by default): a source
	// restart takes about a second here.
	connectRetrySeconds = 5
	// maxReplPassword is MariaDB's limit on MASTER_PASSWORD (error 3056).
	maxReplPassword = 32
	// replicaWait bounds how long StartReplica waits for the replica to
	// connect, and Promote for it to apply what it received.
	replicaWait = 30 * time.Second
	// replicaPoll is how often they look.
	replicaPoll = 20 * time.Millisecond
)

// serverID returns the server_id of an instance: the 32-bit FNV-1a hash
// of its id, never 0 (a server_id of 0 refuses to replicate). Servers in a
// replication topology must have distinct ids: a replica skips the events
// that carry its own.
func serverID(instanceID string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(instanceID))
	if id := h.Sum32(); id != 0 {
		return id
	}
	return 1
}

// semiSyncTimeoutMS is how long a semi-synchronous source waits for a
// replica's acknowledgement before it goes on without (milliseconds).
const semiSyncTimeoutMS = 10000

// replicationSettings are the my.cnf settings of the binary log and of a
// replica (name, value), in the order Render writes them.
func replicationSettings(spec datastore.Spec) [][2]string {
	kv := [][2]string{
		{"server-id", strconv.FormatUint(uint64(serverID(spec.InstanceID)), 10)},
		{"relay-log", relayLogBase},
	}
	if !spec.Replicated && spec.ReplicaOf == nil {
		// A standalone server keeps no binary log: on a full volume MariaDB
		// waits for space to write one (it never fails the write), and a
		// standalone server has no replica to read it.
		return kv
	}
	kv = append(kv, [][2]string{
		{"log-bin", binlogBase},
		{"binlog-format", "ROW"},
		{"log-slave-updates", "ON"},
		{"binlog_expire_logs_seconds", strconv.Itoa(binlogExpireSeconds)},
		{"max_binlog_size", strconv.Itoa(maxBinlogSizeMB) + "M"},
		// With a binary log, MariaDB refuses stored functions and triggers
		// from users without SUPER unless this is on; row-based logging
		// makes what they change replicate safely anyway.
		{"log-bin-trust-function-creators", "ON"},
	}...)
	if spec.Synchronous {
		// Semi-synchronous replication, both roles (any member may become
		// the source): a commit returns to the client once a replica has
		// it in its relay log, and AFTER_SYNC makes no other session see
		// it before, so a failover to the most advanced replica loses no
		// acknowledged commit. With no replica answering for the timeout,
		// the source goes on asynchronously (logged by MariaDB) rather
		// than stop taking writes.
		// The source side starts off: a source waits for
		// acknowledgements only while a replica follows it (else every
		// commit would wait out the timeout), switched at run time by
		// SetSyncCommit; a replica's own binary log (log-slave-updates)
		// never waits (follow switches it off).
		kv = append(kv, [][2]string{
			{"rpl_semi_sync_master_enabled", "OFF"},
			{"rpl_semi_sync_slave_enabled", "ON"},
			{"rpl_semi_sync_master_wait_point", "AFTER_SYNC"},
			{"rpl_semi_sync_master_timeout", strconv.Itoa(semiSyncTimeoutMS)},
		}...)
	}
	if spec.ReplicaOf != nil {
		// Tenant users and root hold no read-only bypass (READ_ONLY
		// ADMIN): they cannot write. The replication threads and hoard's
		// account can.
		kv = append(kv, [2]string{"read-only", "ON"})
	}
	return kv
}

// ReplicationUser implements datastore.Replicator.
func (e *Engine) ReplicationUser() string { return replUser }

// replPasswordRE is what a replication password may be: printable ASCII
// without blanks, short enough for MASTER_PASSWORD.
var replPasswordRE = regexp.MustCompile(`^[\x21-\x7e]{1,` + strconv.Itoa(maxReplPassword) + `}$`)

func checkReplPassword(op string, password datastore.Secret) error {
	if !replPasswordRE.MatchString(string(password)) {
		return fault.Errorf(fault.Invalid, op,
			"the replication password must be 1-%d printable ASCII characters without blanks", maxReplPassword)
	}
	return nil
}

// PrepareSource implements datastore.Replicator: os_repl@'%' gets the
// password (as its hash) and REPLICATION SLAVE, nothing else. Both are
// binary-logged, so replicas of the source get the account too (and can
// serve replicas of their own once promoted). It also withholds the
// read-only bypass from the tenant's accounts, binary-logged as well, so
// that no account the backup copies to a replica can write there.
func (e *Engine) PrepareSource(ctx context.Context, c datastore.Conn, password datastore.Secret) error {
	const op = "mariadb.prepare_source"
	if err := checkReplPassword(op, password); err != nil {
		return err
	}
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return err
	}
	defer s.Close()
	// A server started before hoard rendered a binary log has none until
	// its next start; a replica of it would have nothing to follow.
	var logBin int
	if err := s.conn.QueryRowContext(ctx, "SELECT @@GLOBAL.log_bin").Scan(&logBin); err != nil {
		return fmt.Errorf("mariadb: prepare source: log_bin: %w", err)
	}
	if logBin != 1 {
		return fmt.Errorf("%w: mariadb: the server writes no binary log (render it with Spec.Replicated)", datastore.ErrSourceNeedsRestart)
	}
	acct := quoteAccount(replUser, "%")
	hash := quoteString(passwordHash(string(password)))
	for _, q := range []string{
		"CREATE USER IF NOT EXISTS " + acct + " IDENTIFIED BY PASSWORD " + hash,
		// As the init-file does for hoard's account: whatever a tenant's
		// root changed, the account logs in, without limits.
		"ALTER USER " + acct + " IDENTIFIED BY PASSWORD " + hash + " REQUIRE NONE WITH MAX_QUERIES_PER_HOUR 0" +
			" MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0 ACCOUNT UNLOCK PASSWORD EXPIRE NEVER",
		// Exactly REPLICATION SLAVE, whatever a tenant's root granted it.
		"REVOKE ALL PRIVILEGES, GRANT OPTION FROM " + acct,
		"GRANT REPLICATION SLAVE ON *.* TO " + acct,
	} {
		if err := s.exec(ctx, q); err != nil {
			return fmt.Errorf("mariadb: prepare source: account %s: %w", acct, err)
		}
	}
	if err := withholdReadOnlyBypass(ctx, s, adminName(c)); err != nil {
		return fmt.Errorf("mariadb: prepare source: %w", err)
	}
	e.log.Debug("replication account ready", "user", replUser)
	return nil
}

// adminName is hoard's account name in c.
func adminName(c datastore.Conn) string {
	if c.User == "" {
		return adminUser
	}
	return c.User
}

// versionNumRE is the version at the start of SELECT VERSION().
var versionNumRE = regexp.MustCompile(`^(\d{1,4})\.(\d{1,4})\.(\d{1,4})`)

// readOnlyBypass returns the global privileges that let an account write
// despite read_only on a server of version v (SELECT VERSION()): READ_ONLY
// ADMIN since 10.5.2, and SUPER, which includes it before 10.11.
func readOnlyBypass(v string) ([]string, error) {
	m := versionNumRE.FindStringSubmatch(v)
	if m == nil {
		return nil, fmt.Errorf("unrecognised server version %q", truncate(v, 60))
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	patch, _ := strconv.Atoi(m[3])
	n := major*1_000_000 + minor*1_000 + patch
	switch {
	case n >= 10_011_000:
		return []string{"READ_ONLY ADMIN"}, nil
	case n >= 10_005_002:
		return []string{"READ_ONLY ADMIN", "SUPER"}, nil
	default:
		return []string{"SUPER"}, nil
	}
}

// withholdReadOnlyBypass revokes the read-only bypass (readOnlyBypass)
// from every account and role that holds it but hoard's own (admin),
// root@localhost (the host's OS root over the socket) and mariadb.sys: a
// tenant's root enabled before EnableRoot withheld it, and whatever such a
// root granted it to. Accounts without it are left untouched, so that
// nothing needless reaches the binary log.
func withholdReadOnlyBypass(ctx context.Context, s *session, admin string) error {
	var version string
	if err := s.conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return fmt.Errorf("server version: %w", err)
	}
	privs, err := readOnlyBypass(version)
	if err != nil {
		return err
	}
	rows, err := s.conn.QueryContext(ctx, "SELECT User, Host, is_role FROM mysql.user")
	if err != nil {
		return fmt.Errorf("list accounts: %w", err)
	}
	var grantees []string
	for rows.Next() {
		var user, host, role string
		if err := rows.Scan(&user, &host, &role); err != nil {
			rows.Close()
			return fmt.Errorf("list accounts: %w", err)
		}
		if user == admin || user == "mariadb.sys" || user == "" || (user == rootUser && host == "localhost") {
			continue
		}
		if role == "Y" {
			grantees = append(grantees, quoteString(user))
		} else {
			grantees = append(grantees, quoteAccount(user, host))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list accounts: %w", err)
	}
	for _, g := range grantees {
		holds, err := holdsGlobal(ctx, s, g, privs)
		if err != nil {
			return err
		}
		if !holds {
			continue
		}
		if err := s.exec(ctx, "REVOKE "+strings.Join(privs, ", ")+" ON *.* FROM "+g); err != nil {
			return fmt.Errorf("withhold the read-only bypass from %s: %w", g, err)
		}
	}
	return nil
}

// holdsGlobal reports whether grantee holds one of privs (or ALL
// PRIVILEGES) on *.*, from SHOW GRANTS.
func holdsGlobal(ctx context.Context, s *session, grantee string, privs []string) (bool, error) {
	rows, err := s.conn.QueryContext(ctx, "SHOW GRANTS FOR "+grantee)
	if err != nil {
		return false, fmt.Errorf("grants of %s: %w", grantee, err)
	}
	defer rows.Close()
	holds := false
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return false, fmt.Errorf("grants of %s: %w", grantee, err)
		}
		list, _, ok := strings.Cut(g, " ON *.* TO ")
		if !ok || !strings.HasPrefix(list, "GRANT ") {
			continue
		}
		for _, p := range strings.Split(strings.TrimPrefix(list, "GRANT "), ", ") {
			holds = holds || p == "ALL PRIVILEGES" || slices.Contains(privs, p)
		}
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("grants of %s: %w", grantee, err)
	}
	return holds, nil
}

// hostnameRE is what a source host name may be when it is not an IP
// address.
var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)

// checkSource validates a replica's source for the operation op.
func checkSource(op string, src datastore.ReplicaSource) error {
	if a, err := netip.ParseAddr(src.Address); (err != nil || a.Zone() != "") && !hostnameRE.MatchString(src.Address) {
		return fault.New(fault.Invalid, op, "the source address must be an IP address or a host name")
	}
	if src.Port < 1 || src.Port > 65535 {
		return fault.Errorf(fault.Invalid, op, "source port %d out of range 1-65535", src.Port)
	}
	if !adminNameRE.MatchString(src.User) {
		return fault.New(fault.Invalid, op, "invalid replication user name")
	}
	return checkReplPassword(op, src.Password)
}

// StartReplica implements datastore.Replicator. On a replica that is not
// configured yet it sets gtid_slave_pos to meta's MetaGTIDPos (the
// source's position at the backup the replica was restored from); one
// configured for another source keeps its position and only changes the
// connection. Then CHANGE MASTER ... MASTER_USE_GTID=slave_pos and START
// SLAVE. A replica already configured for src only gets START SLAVE
// (which leaves running threads alone), or, if it is not running, its
// password again first (PrepareSource may have changed it). Either way it
// makes sure the server is read-only and that no tenant account holds the
// read-only bypass, and waits (at most replicaWait) until the replica has
// connected: an error says why it has not (its last replication error),
// and running StartReplica again is harmless.
//
// The password reaches the server inside CHANGE MASTER, which takes no
// parameter markers; the session turns off the general and slow query
// logs and the performance schema's statement history first, and errors
// never quote it.
func (e *Engine) StartReplica(ctx context.Context, c datastore.Conn, meta map[string]string, src datastore.ReplicaSource) error {
	const op = "mariadb.start_replica"
	return e.follow(ctx, c, src, followOp{op: op, what: "start replica", from: func(context.Context, *session) (string, error) {
		pos, ok := meta[MetaGTIDPos]
		if !ok {
			return "", fault.New(fault.Invalid, op, "the backup has no GTID position: its source wrote no binary log")
		}
		if !gtidPosRE.MatchString(pos) {
			return "", fault.New(fault.Invalid, op, "the backup's GTID position is malformed")
		}
		return pos, nil
	}})
}

// followOp is what StartReplica and Follow (switchover.go) differ in:
// their fault op, the words their errors start with, and where a server
// that follows no source yet starts from (its gtid_slave_pos).
type followOp struct {
	op, what string
	from     func(ctx context.Context, s *session) (string, error)
}

// follow makes the server at c a running replica of src: see StartReplica.
func (e *Engine) follow(ctx context.Context, c datastore.Conn, src datastore.ReplicaSource, f followOp) error {
	if err := checkSource(f.op, src); err != nil {
		return err
	}
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := localSession(ctx, s); err != nil {
		return fmt.Errorf("mariadb: %s: %w", f.what, err)
	}
	// Read-only first (a no-op on a replica rendered so), so that no
	// tenant writes past the position f.from reads.
	if err := withholdReadOnlyBypass(ctx, s, adminName(c)); err != nil {
		return fmt.Errorf("mariadb: %s: %w", f.what, err)
	}
	if n, err := setReadOnly(ctx, s, adminName(c)); err != nil {
		return fmt.Errorf("mariadb: %s: %w", f.what, err)
	} else if n > 0 {
		e.log.Warn(f.what+": tenant statements held off read_only; their connections were killed", "connections", n)
	}
	st, err := slaveStatus(ctx, s)
	if err != nil {
		return err
	}
	switch {
	case st == nil || !st.follows(src):
		if err := configureReplica(ctx, s, st, f, src); err != nil {
			return err
		}
		e.log.Debug("replica configured", "source", src.Address, "port", src.Port, "reconfigured", st != nil)
	case st.status().State != datastore.ReplicaRunning:
		// The same source, not followed: the password may have changed
		// since (PrepareSource again). Only it is set; the position stays
		// gtid_slave_pos.
		if err := s.exec(ctx, "STOP SLAVE"); err != nil {
			return fmt.Errorf("mariadb: %s: stop slave: %w", f.what, err)
		}
		if err := changeMaster(ctx, s, src, f.what, false); err != nil {
			return err
		}
		e.log.Debug("replica password set again", "source", src.Address, "port", src.Port)
	}
	if err := semiSyncRole(ctx, s, false); err != nil {
		return fmt.Errorf("mariadb: %s: %w", f.what, err)
	}
	if err := s.exec(ctx, "START SLAVE"); err != nil {
		return fmt.Errorf("mariadb: %s: start slave: %w", f.what, err)
	}
	return waitConnected(ctx, s, f.what)
}

// semiSyncRole switches the source side of semi-synchronous replication
// on a server rendered semi-synchronous (Spec.Synchronous, which turns
// the replica side on): off when it becomes a replica, on or off on a
// source by SetSyncCommit. A server not rendered so is left alone.
func semiSyncRole(ctx context.Context, s *session, source bool) error {
	var on int
	if err := s.conn.QueryRowContext(ctx, "SELECT @@rpl_semi_sync_slave_enabled").Scan(&on); err != nil {
		return fmt.Errorf("semi-synchronous replication: %w", err)
	}
	if on == 0 {
		return nil
	}
	v := "OFF"
	if source {
		v = "ON"
	}
	if err := s.exec(ctx, "SET GLOBAL rpl_semi_sync_master_enabled = "+v); err != nil {
		return fmt.Errorf("semi-synchronous replication: %w", err)
	}
	return nil
}

// SetSyncCommit implements datastore.SyncCommitter: the source side of
// semi-synchronous replication (AFTER_SYNC, rendered), on while a replica
// follows.
func (e *Engine) SetSyncCommit(ctx context.Context, c datastore.Conn, on bool) error {
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return err
	}
	defer s.Close()
	var cur int
	if err := s.conn.QueryRowContext(ctx, "SELECT @@rpl_semi_sync_master_enabled").Scan(&cur); err != nil {
		return fmt.Errorf("mariadb: semi-synchronous replication: %w", err)
	}
	if (cur == 1) == on {
		return nil
	}
	if err := semiSyncRole(ctx, s, on); err != nil {
		return fmt.Errorf("mariadb: %w", err)
	}
	e.log.Debug("semi-synchronous commit changed", "on", on)
	return nil
}

// localSession keeps what s does out of the binary log (a replica's own
// changes would be transactions its source never had) and its statements
// out of the general and slow query logs and the performance schema.
func localSession(ctx context.Context, s *session) error {
	for _, q := range []string{
		"SET SESSION sql_log_bin = 0",
		"SET SESSION sql_log_off = ON",
		"SET SESSION slow_query_log = OFF",
		"UPDATE performance_schema.threads SET INSTRUMENTED = 'NO' WHERE PROCESSLIST_ID = CONNECTION_ID()",
	} {
		if err := s.exec(ctx, q); err != nil {
			return fmt.Errorf("session: %w", err)
		}
	}
	return nil
}

// configureReplica points the replica at src: STOP SLAVE when it follows
// another source (st non-nil), gtid_slave_pos from f.from when it follows
// none, then CHANGE MASTER.
func configureReplica(ctx context.Context, s *session, st *replicaRow, f followOp, src datastore.ReplicaSource) error {
	if st != nil {
		if err := s.exec(ctx, "STOP SLAVE"); err != nil {
			return fmt.Errorf("mariadb: %s: stop slave: %w", f.what, err)
		}
	} else {
		pos, err := f.from(ctx, s)
		if err != nil {
			return err
		}
		if err := s.exec(ctx, "SET GLOBAL gtid_slave_pos = "+quoteString(pos)); err != nil {
			return fmt.Errorf("mariadb: %s: gtid_slave_pos: %w", f.what, err)
		}
	}
	return changeMaster(ctx, s, src, f.what, true)
}

// changeMaster runs CHANGE MASTER with src's password, and with all
// else of src (full) or nothing else; what starts its errors.
func changeMaster(ctx context.Context, s *session, src datastore.ReplicaSource, what string, full bool) error {
	pw := string(src.Password)
	stmt := "CHANGE MASTER TO MASTER_PASSWORD = " + quoteString(pw)
	if full {
		stmt += ", MASTER_HOST = " + quoteString(src.Address) +
			", MASTER_PORT = " + strconv.Itoa(src.Port) +
			", MASTER_USER = " + quoteString(src.User) +
			", MASTER_USE_GTID = slave_pos" +
			", MASTER_CONNECT_RETRY = " + strconv.Itoa(connectRetrySeconds)
	}
	if err := s.exec(ctx, stmt); err != nil {
		return fmt.Errorf("mariadb: %s: change master: %w", what, scrub(err, pw))
	}
	return nil
}

// scrub returns err, or a plain error with its text if the text contains
// secret, with secret redacted.
func scrub(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "[redacted]"))
}

// waitConnected polls the replica until it runs (nil), breaks or
// replicaWait passes (an error with its last replication error); what
// starts its errors.
func waitConnected(ctx context.Context, s *session, what string) error {
	ctx, cancel := context.WithTimeout(ctx, replicaWait)
	defer cancel()
	tick := time.NewTicker(replicaPoll)
	defer tick.Stop()
	for {
		st, err := slaveStatus(ctx, s)
		if err != nil {
			return err
		}
		if st == nil {
			return fmt.Errorf("mariadb: %s: the server forgot its source", what)
		}
		rs := st.status()
		switch rs.State {
		case datastore.ReplicaRunning:
			return nil
		case datastore.ReplicaBroken:
			return fmt.Errorf("mariadb: %s: replication stopped: %s", what, rs.Error)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mariadb: %s: not connected to the source after %v: %s", what, replicaWait, cmp.Or(rs.Error, "no error reported"))
		case <-tick.C:
		}
	}
}

// ReplicaStatus implements datastore.Replicator from SHOW SLAVE STATUS:
//   - both threads running: ReplicaRunning, with Seconds_Behind_Master;
//   - the I/O thread connecting (a source restarting, the network, a
//     refused login: it retries every connectRetrySeconds):
//     ReplicaConnecting;
//   - a thread stopped, on an error (a conflicting change, binary logs
//     the source has purged) or by STOP SLAVE: ReplicaBroken, as MariaDB
//     does not restart it by itself.
//
// LagSeconds is -1 unless running. ErrNotReplica if no source is
// configured.
func (e *Engine) ReplicaStatus(ctx context.Context, c datastore.Conn) (datastore.ReplicaStatus, error) {
	s, err := open(ctx, c, c.User, c.Password, pingTimeouts)
	if err != nil {
		return datastore.ReplicaStatus{}, err
	}
	defer s.Close()
	st, err := slaveStatus(ctx, s)
	if err != nil {
		return datastore.ReplicaStatus{}, err
	}
	if st == nil {
		return datastore.ReplicaStatus{}, datastore.ErrNotReplica
	}
	return st.status(), nil
}

// Promote implements datastore.Replicator: STOP SLAVE IO_THREAD, a wait
// (at most replicaWait) for the SQL thread to apply the relay log it has,
// STOP SLAVE, RESET SLAVE ALL (which forgets the source and its password)
// and SET GLOBAL read_only = OFF. A server that follows no source only
// gets read_only = OFF, which a source already has, and which finishes a
// Promote that was interrupted.
func (e *Engine) Promote(ctx context.Context, c datastore.Conn) error {
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := localSession(ctx, s); err != nil {
		return fmt.Errorf("mariadb: promote: %w", err)
	}
	st, err := slaveStatus(ctx, s)
	if err != nil {
		return err
	}
	if st != nil {
		if err := s.exec(ctx, "STOP SLAVE IO_THREAD"); err != nil {
			return fmt.Errorf("mariadb: promote: stop slave io_thread: %w", err)
		}
		if applied, err := waitApplied(ctx, s); err != nil {
			return fmt.Errorf("mariadb: promote: %w", err)
		} else if !applied {
			e.log.Warn("promote: the replica had not applied all it received from its source; the rest is dropped")
		}
		for _, q := range []string{"STOP SLAVE", "RESET SLAVE ALL"} {
			if err := s.exec(ctx, q); err != nil {
				return fmt.Errorf("mariadb: promote: %s: %w", strings.ToLower(q), err)
			}
		}
	}
	if err := s.exec(ctx, "SET GLOBAL read_only = OFF"); err != nil {
		return fmt.Errorf("mariadb: promote: read_only: %w", err)
	}
	e.log.Debug("promoted", "was_replica", st != nil)
	return nil
}

// waitApplied waits until the SQL thread has executed everything the I/O
// thread read, or stopped; false after replicaWait.
func waitApplied(ctx context.Context, s *session) (bool, error) {
	wctx, cancel := context.WithTimeout(ctx, replicaWait)
	defer cancel()
	tick := time.NewTicker(replicaPoll)
	defer tick.Stop()
	for {
		st, err := slaveStatus(ctx, s)
		if err != nil {
			return false, err
		}
		if st == nil || st.applied() {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-wctx.Done():
			return false, nil
		case <-tick.C:
		}
	}
}

// replicaRow is the row of SHOW SLAVE STATUS, by column name; NULL is
// absent.
type replicaRow map[string]string

// slaveStatus reads SHOW SLAVE STATUS; nil if no source is configured.
func slaveStatus(ctx context.Context, s *session) (*replicaRow, error) {
	rows, err := s.conn.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		if refused(err) {
			return nil, fmt.Errorf("mariadb: slave status: %w: %w", datastore.ErrAdminLost, err)
		}
		return nil, fmt.Errorf("mariadb: slave status: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("mariadb: slave status: %w", err)
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("mariadb: slave status: %w", err)
		}
		return nil, nil
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, fmt.Errorf("mariadb: slave status: %w", err)
	}
	r := replicaRow{}
	for i, c := range cols {
		if vals[i].Valid {
			r[c] = vals[i].String
		}
	}
	return &r, nil
}

// follows reports whether the replica is configured for src with GTID.
func (r replicaRow) follows(src datastore.ReplicaSource) bool {
	return r["Master_Host"] == src.Address && r["Master_Port"] == strconv.Itoa(src.Port) &&
		r["Master_User"] == src.User && strings.EqualFold(r["Using_Gtid"], "Slave_Pos")
}

// applied reports whether the SQL thread has executed all the I/O thread
// read, or is not running.
func (r replicaRow) applied() bool {
	return r["Slave_SQL_Running"] != "Yes" ||
		(r["Master_Log_File"] == r["Relay_Master_Log_File"] && r["Read_Master_Log_Pos"] == r["Exec_Master_Log_Pos"])
}

// status maps the row to a datastore.ReplicaStatus.
func (r replicaRow) status() datastore.ReplicaStatus {
	io, sqlThread := r["Slave_IO_Running"], r["Slave_SQL_Running"]
	errText := ""
	for _, k := range []string{"Last_SQL_Error", "Last_IO_Error"} {
		if v := strings.TrimSpace(r[k]); v != "" {
			errText = truncate(v, 500)
			break
		}
	}
	st := datastore.ReplicaStatus{LagSeconds: -1, Error: errText}
	switch {
	case sqlThread != "Yes" || io == "No" || io == "":
		st.State = datastore.ReplicaBroken
		if st.Error == "" {
			st.Error = "replication was stopped"
		}
	case io == "Yes":
		st.State = datastore.ReplicaRunning
		if v, err := strconv.ParseFloat(r["Seconds_Behind_Master"], 64); err == nil && v >= 0 {
			st.LagSeconds = v
		}
	default: // Connecting, Preparing
		st.State = datastore.ReplicaConnecting
	}
	return st
}
