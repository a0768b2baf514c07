package postgresql

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// This file implements datastore.Replicator with PostgreSQL's physical
// streaming replication and a hot standby:
//
//   - every server is rendered ready to be a source (process.go: wal_level
//     replica, max_wal_senders, a wal_keep_size bounded by the volume, and
//     the pg_hba.conf line "host replication os_replicator all
//     scram-sha-256");
//   - PrepareSource creates the role os_replicator (REPLICATION LOGIN, the
//     SCRAM verifier of its password, nothing else);
//   - the replica's data directory is a pg_basebackup of the source
//     (Backup, Restore); Render writes primary_conninfo for spec.ReplicaOf
//     into postgresql.conf (never on the command line: it holds the
//     password) and Prepare creates standby.signal, so the server starts as
//     a standby, replays the backup's WAL and streams from the source; it
//     reconnects by itself when the source restarts;
//   - StartReplica has nothing to start: it checks that the standby streams;
//   - a standby refuses every write, whoever asks (SQLSTATE 25006,
//     read_only_sql_transaction), tenants and root alike;
//   - Promote is pg_promote(), which ends recovery, removes standby.signal
//     and makes the server writable at once.
//
// The replica has the source's roles and passwords (they are in the copied
// data directory, and a standby cannot change them): hoard reaches it with
// the source's administrative account.

var _ datastore.Replicator = (*Engine)(nil)

// replicationUser is the role replicas log in to their source with; it is
// reserved like adminUser (validate.go).
const replicationUser = "os_replicator"

// standbySignalFile in the data directory makes a starting server a
// standby.
const standbySignalFile = "standby.signal"

// startReplicaTimeout bounds StartReplica's wait for streaming when ctx
// has no deadline.
const startReplicaTimeout = time.Minute

// maxPromoteWait bounds how long pg_promote waits for the end of recovery.
const maxPromoteWait = 60

// SQLSTATE codes of replication.
const (
	codeReadOnlyTransaction    = "25006" // read_only_sql_transaction: a write on a standby
	codeNotInPrerequisiteState = "55000" // object_not_in_prerequisite_state: pg_promote on a primary
)

// hostnameRE is what a source's host name may be (an IP address is parsed
// as one): letters, digits, '.' and '-'. A ',' would name several hosts to
// libpq, a '/' a socket directory.
var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)

// ReplicationUser implements datastore.Replicator.
func (e *Engine) ReplicationUser() string { return replicationUser }

// checkReplicaOf validates spec.ReplicaOf for Render: an IP address without
// a zone or a host name, a port (not the replica's own address and port),
// a role name, and a password of the package's rules (or none); and the
// instance id, the replica's application_name, without control
// characters. Messages never hold the password.
func checkReplicaOf(spec datastore.Spec) error {
	const op = "postgresql.render"
	src := spec.ReplicaOf
	if a, err := netip.ParseAddr(src.Address); err == nil {
		if a.Zone() != "" {
			return fault.New(fault.Invalid, op, "the source's address must not have a zone")
		}
	} else if !hostnameRE.MatchString(src.Address) {
		return fault.New(fault.Invalid, op, "the source's address must be an IP address or a host name")
	}
	if src.Port < 1 || src.Port > 65535 {
		return fault.Errorf(fault.Invalid, op, "the source's port %d is out of range 1-65535", src.Port)
	}
	if src.Address == spec.Address && src.Port == spec.Port {
		return fault.New(fault.Invalid, op, "a replica cannot follow itself")
	}
	if len(src.User) > maxIdentifier || !identRE.MatchString(src.User) {
		return fault.New(fault.Invalid, op, "the source's replication account is not a valid role name")
	}
	if strings.ContainsFunc(spec.InstanceID, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fault.New(fault.Invalid, op, "the instance id must not hold control characters")
	}
	if src.Password != "" {
		if err := ValidatePassword(string(src.Password)); err != nil {
			return fault.New(fault.Invalid, op, "the source's replication password must be 1-255 printable ASCII characters")
		}
	}
	return nil
}

// conninfoValue quotes a value of a libpq connection string: in single
// quotes, with backslash and quote escaped by a backslash.
func conninfoValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// confString quotes a string for postgresql.conf: in single quotes, a
// quote doubled and a backslash escaped (the file's parser reads
// backslash escapes in quoted values).
func confString(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(v) + "'"
}

// primaryConninfo is the connection string a replica of spec uses to reach
// its source: host, port, user, application_name (the instance id, which
// the source shows in pg_stat_replication) and the password file Prepare
// writes (replicaPassFile). The password itself is not in it: a standby
// shows primary_conninfo to every member of pg_read_all_settings, and
// root holds that role through pg_monitor; root must not learn a password
// that lets it stream from the source (it is NOREPLICATION on purpose).
func primaryConninfo(spec datastore.Spec) string {
	src := spec.ReplicaOf
	return strings.Join([]string{
		"host=" + conninfoValue(src.Address),
		"port=" + strconv.Itoa(src.Port),
		"user=" + conninfoValue(src.User),
		"passfile=" + conninfoValue(replicaPassPath(spec)),
		"application_name=" + conninfoValue(spec.InstanceID),
	}, " ")
}

// replicaPassFile, in RunDir, holds a replica's password for its source
// (a libpq password file, 0600, owned by the instance user): libpq reads
// no password file that group or others could read, and RunDir, unlike
// the data directory, is not copied into backups.
const replicaPassFile = "replication.pgpass"

func replicaPassPath(spec datastore.Spec) string { return filepath.Join(spec.RunDir, replicaPassFile) }

// replicaLines returns the postgresql.conf lines of a replica (none if
// spec.ReplicaOf is nil): primary_conninfo, in the file only (no -c: a
// reload can change it). A source without a password makes Prepare write
// no password file: the standby starts and serves reads, but cannot log in
// to its source (ReplicaStatus says connecting).
func replicaLines(spec datastore.Spec) ([]string, error) {
	if spec.ReplicaOf == nil {
		return nil, nil
	}
	if err := checkReplicaOf(spec); err != nil {
		return nil, err
	}
	return []string{
		"# Replica: a hot standby streaming from its source. Prepare creates",
		"# standby.signal and the password file.",
		"primary_conninfo = " + confString(primaryConninfo(spec)),
	}, nil
}

// writeReplicaPassFile writes (or, with no password, removes) spec's
// replicaPassFile: a new file, created without following links and handed
// to RunDir's owner before it is renamed over the old one, so that nothing
// a link points to is ever written. A line break in the password is
// refused (checkReplicaOf allows none).
func writeReplicaPassFile(spec datastore.Spec) error {
	path := replicaPassPath(spec)
	if spec.ReplicaOf == nil || spec.ReplicaOf.Password == "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", replicaPassFile, err)
		}
		return nil
	}
	src := spec.ReplicaOf
	if strings.ContainsAny(src.User+string(src.Password), "\n\r\x00") {
		return errors.New("the replication account or password contains a line break")
	}
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	line := "*:*:*:" + esc.Replace(src.User) + ":" + esc.Replace(string(src.Password)) + "\n"
	tmp := path + ".new"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := createOwned(tmp, spec.RunDir)
	if err != nil {
		return fmt.Errorf("create %s: %w", replicaPassFile, err)
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", replicaPassFile, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", replicaPassFile, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", replicaPassFile, err)
	}
	return nil
}

// createOwned creates path (0600; it must not exist, and a link is not
// followed) and hands it to the owner of dir, the instance user.
func createOwned(path, dir string) (*os.File, error) {
	di, err := os.Lstat(dir)
	if err != nil {
		return nil, err
	}
	if !di.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if st, ok := di.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid()) {
		if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil {
			f.Close()
			return nil, fmt.Errorf("hand it to the instance user: %w", err)
		}
	}
	return f, nil
}

// ensureStandbySignal makes sure dataDir holds a regular file
// standby.signal, owned like dataDir (the server removes it when it is
// promoted). Anything else by that name (a symbolic link, which a dangling
// target would make look absent to the server) is replaced; no link is
// followed.
func ensureStandbySignal(dataDir string) error {
	p := filepath.Join(dataDir, standbySignalFile)
	if fi, err := os.Lstat(p); err == nil {
		if fi.Mode().IsRegular() {
			return nil
		}
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("replace %s: %w", standbySignalFile, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := createOwned(p, dataDir)
	if err != nil {
		return fmt.Errorf("create %s: %w", standbySignalFile, err)
	}
	return f.Close()
}

// PrepareSource implements datastore.Replicator: the role os_replicator
// with REPLICATION, LOGIN and the SCRAM verifier of password (so that
// neither the password nor a statement holding it reaches the server's
// log), created or, if it exists, given the password and attributes again;
// it has no other privilege. pg_hba.conf admits it for replication from
// any address. It also checks that the running server can send WAL
// (wal_level, max_wal_senders).
func (e *Engine) PrepareSource(ctx context.Context, c datastore.Conn, password datastore.Secret) error {
	const op = "postgresql.prepare_source"
	if err := ValidatePassword(string(password)); err != nil {
		return fault.New(fault.Invalid, op, "the replication password must be 1-255 printable ASCII characters")
	}
	verifier, err := scramVerifier(string(password))
	if err != nil {
		return err
	}
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var level string
	var senders int
	if err := conn.QueryRow(ctx, "SELECT current_setting('wal_level'), current_setting('max_wal_senders')::int").Scan(&level, &senders); err != nil {
		return fmt.Errorf("postgresql: prepare source: %w", err)
	}
	if (level != "replica" && level != "logical") || senders < 1 {
		return fault.Errorf(fault.Conflict, op,
			"the server cannot be replicated (wal_level %s, max_wal_senders %d); restart it first", level, senders)
	}
	exists, err := roleExists(ctx, conn, replicationUser)
	if err != nil {
		return err
	}
	verb := "CREATE ROLE "
	if exists {
		verb = "ALTER ROLE "
	}
	if err := execAll(ctx, conn, "prepare source: replication role",
		verb+ident(replicationUser)+" WITH NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT REPLICATION NOBYPASSRLS LOGIN PASSWORD "+quoteLiteral(verifier),
	); err != nil {
		return err
	}
	e.log.Debug("replication account ready", "user", replicationUser, "created", !exists)
	return nil
}

// inRecovery reports pg_is_in_recovery(): whether the server is a standby.
func inRecovery(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var r bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&r); err != nil {
		return false, fmt.Errorf("postgresql: pg_is_in_recovery: %w", err)
	}
	return r, nil
}

// walReceiver is the row of pg_stat_wal_receiver ("" status: none, the
// standby is not connected and not trying at this moment).
type walReceiver struct {
	status string
	host   string
	port   int
	// tli is received_tli: the timeline it streams (0 without a row).
	tli uint32
}

func readWalReceiver(ctx context.Context, conn *pgx.Conn) (walReceiver, error) {
	var w walReceiver
	err := conn.QueryRow(ctx, "SELECT status, coalesce(sender_host, ''), coalesce(sender_port, 0), coalesce(received_tli, 0)::int8 FROM pg_catalog.pg_stat_wal_receiver").
		Scan(&w.status, &w.host, &w.port, &w.tli)
	if errors.Is(err, pgx.ErrNoRows) {
		return walReceiver{}, nil
	}
	if err != nil {
		return walReceiver{}, fmt.Errorf("postgresql: pg_stat_wal_receiver: %w", err)
	}
	return w, nil
}

// StartReplica implements datastore.Replicator. A standby starts streaming
// by itself (Render and Prepare made it one), so there is nothing to
// start: StartReplica waits, until ctx's deadline (startReplicaTimeout
// without one), for the standby to stream from src. A server that is not
// in recovery (not rendered as a replica, or promoted) is a fault.Conflict
// wrapping datastore.ErrNotReplica; one that streams from another source
// is a fault.Conflict. meta, when it names a format, must be this
// engine's pg_basebackup tar.
func (e *Engine) StartReplica(ctx context.Context, c datastore.Conn, meta map[string]string, src datastore.ReplicaSource) error {
	const op = "postgresql.start_replica"
	if f := meta[MetaFormat]; f != "" && f != FormatBaseTar {
		return fault.Errorf(fault.Invalid, op, "the replica was not seeded from a PostgreSQL base backup (format %.40q)", f)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startReplicaTimeout)
		defer cancel()
	}
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		rec, err := inRecovery(ctx, conn)
		if err != nil {
			return err
		}
		if !rec {
			return fault.Wrap(fault.Conflict, op, "The server is not a replica.", datastore.ErrNotReplica)
		}
		w, err := readWalReceiver(ctx, conn)
		if err != nil {
			return err
		}
		if w.status == "streaming" {
			if w.host != src.Address || w.port != src.Port {
				return fault.Errorf(fault.Conflict, op, "The replica follows %s port %d, not %s port %d.",
					printable(w.host), w.port, printable(src.Address), src.Port)
			}
			e.log.Debug("replica streams", "source", src.Address, "port", src.Port)
			return nil
		}
		select {
		case <-ctx.Done():
			status := w.status
			if status == "" {
				status = "not running"
			}
			return fmt.Errorf("postgresql: start replica: the replica does not stream from %s port %d (WAL receiver %s): %w",
				printable(src.Address), src.Port, status, ctx.Err())
		case <-tick.C:
		}
	}
}

// pollEvery is how often StartReplica looks at the WAL receiver.
const pollEvery = 50 * time.Millisecond

// ReplicaStatus implements datastore.Replicator: datastore.ErrNotReplica
// when the server is not in recovery; running while its WAL receiver
// streams, else connecting (PostgreSQL retries by itself, every
// wal_retrieve_retry_interval), or broken once it has not streamed for
// Config.ReplicaBrokenAfter (receiverWatch: PostgreSQL keeps no such time,
// so the engine counts from its first look that found no stream; a
// standby that never streams shows broken from the threshold after the
// first look on). PostgreSQL reports no replication error through SQL
// (the WAL receiver logs it: a source that removed WAL the replica still
// needs, a refused login), so Error names the source and how long, and
// points to the server log. The lag is 0 when everything received is
// replayed, else the time since the last replayed transaction committed
// on the source; -1 when the standby is not connected or has replayed no
// transaction since it started.
func (e *Engine) ReplicaStatus(ctx context.Context, c datastore.Conn) (datastore.ReplicaStatus, error) {
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return datastore.ReplicaStatus{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rec, err := inRecovery(ctx, conn)
	if err != nil {
		return datastore.ReplicaStatus{}, err
	}
	if !rec {
		return datastore.ReplicaStatus{}, fmt.Errorf("postgresql: replica status: %w", datastore.ErrNotReplica)
	}
	w, err := readWalReceiver(ctx, conn)
	if err != nil {
		return datastore.ReplicaStatus{}, err
	}
	if w.status != "streaming" {
		var received, conninfo string
		if err := conn.QueryRow(ctx, "SELECT coalesce(pg_last_wal_receive_lsn()::text, ''), current_setting('primary_conninfo')").
			Scan(&received, &conninfo); err != nil {
			return datastore.ReplicaStatus{}, fmt.Errorf("postgresql: replica status: %w", err)
		}
		down := e.watch.look(watchKey(c), e.now(), false, received)
		return notStreamingStatus(w.status, conninfo, down, e.cfg.ReplicaBrokenAfter), nil
	}
	e.watch.look(watchKey(c), e.now(), true, "")
	var lag *float64
	if err := conn.QueryRow(ctx, "SELECT CASE"+
		" WHEN pg_last_wal_receive_lsn() IS NULL THEN NULL"+
		" WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0"+
		" ELSE greatest(0, extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()))::float8 END",
	).Scan(&lag); err != nil {
		return datastore.ReplicaStatus{}, fmt.Errorf("postgresql: replica lag: %w", err)
	}
	st := datastore.ReplicaStatus{State: datastore.ReplicaRunning, LagSeconds: -1}
	if lag != nil {
		st.LagSeconds = *lag
	}
	return st, nil
}

// Promote implements datastore.Replicator: pg_promote() ends recovery and
// waits for it (up to ctx's deadline, at most maxPromoteWait seconds); the
// server removes standby.signal, starts a new timeline and accepts writes
// at once. A server not in recovery is left as it is.
func (e *Engine) Promote(ctx context.Context, c datastore.Conn) error {
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rec, err := inRecovery(ctx, conn)
	if err != nil || !rec {
		return err
	}
	wait := maxPromoteWait
	if d, ok := ctx.Deadline(); ok {
		wait = min(max(int(time.Until(d)/time.Second), 1), maxPromoteWait)
	}
	var done bool
	err = conn.QueryRow(ctx, "SELECT pg_promote(true, $1)", wait).Scan(&done)
	switch {
	case sqlState(err) == codeNotInPrerequisiteState:
		return nil // promoted meanwhile: recovery is not in progress
	case err != nil:
		return fmt.Errorf("postgresql: promote: %w", err)
	case !done:
		return fmt.Errorf("postgresql: promote: recovery did not end within %d seconds", wait)
	}
	e.log.Debug("replica promoted")
	return nil
}

// syncStandbys is synchronous_standby_names on a synchronous source: any
// one standby's acknowledgement is enough.
const syncStandbys = "ANY 1 (*)"

// SetSyncCommit implements datastore.SyncCommitter with
// synchronous_standby_names, written by ALTER SYSTEM (kept across
// restarts) and reloaded.
func (e *Engine) SetSyncCommit(ctx context.Context, c datastore.Conn, on bool) error {
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var cur string
	if err := conn.QueryRow(ctx, "SHOW synchronous_standby_names").Scan(&cur); err != nil {
		return fmt.Errorf("postgresql: read synchronous_standby_names: %w", err)
	}
	want := ""
	if on {
		want = syncStandbys
	}
	if cur == want {
		return nil
	}
	stmt := "ALTER SYSTEM RESET synchronous_standby_names"
	if on {
		stmt = "ALTER SYSTEM SET synchronous_standby_names = '" + syncStandbys + "'"
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("postgresql: set synchronous_standby_names: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("postgresql: reload: %w", err)
	}
	e.log.Debug("synchronous commit changed", "on", on)
	return nil
}
