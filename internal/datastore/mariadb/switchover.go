package mariadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// This file implements datastore.Switchover with MariaDB's GTIDs. A
// position is a GTID list as MariaDB prints it (@@gtid_binlog_pos,
// @@gtid_slave_pos): comma-separated domain-server-sequence triples, one
// per replication domain.
//
//   - Fence sets read_only: tenant users and root hold no read-only bypass
//     (READ_ONLY ADMIN, withheld since PrepareSource and by EnableRoot), so
//     none of their statements writes any more, and none can turn it off.
//     MariaDB waits, to set it, for the statements under way and the
//     commits in flight; a transaction that is open but not committing
//     then fails at COMMIT (error 1290) and rolls back, so nothing
//     commits after the position Fence returns (@@gtid_binlog_pos).
//   - WaitCaughtUp is MASTER_GTID_WAIT on the replica.
//   - Follow is StartReplica's path; a server that follows no source (a
//     fenced former source) starts from its own @@gtid_binlog_pos.
//   - ReplicaPosition is what the replica received; ComparePositions
//     orders GTID lists domain by domain.
//
// MariaDB's read_only lasts until the server stops: a fenced source that
// restarts before it is rendered with ReplicaOf takes writes again (its
// my.cnf has no read-only), and must be fenced again.

var _ datastore.Switchover = (*Engine)(nil)

// Fencing and waiting.
const (
	// fenceLockWait is how long Fence lets tenants' statements under way
	// (and tables they hold with LOCK TABLES) hold off read_only before it
	// kills their connections: MariaDB's lock_wait_timeout for the SET.
	fenceLockWait = 5 * time.Second
	// gtidWaitChunk bounds one MASTER_GTID_WAIT: the server does not notice
	// a client that goes away while it waits, so WaitCaughtUp waits in
	// short calls, and looks at the replica between them.
	gtidWaitChunk = time.Second
)

// MariaDB error numbers of this file.
const (
	erLockWaitTimeout = 1205 // ER_LOCK_WAIT_TIMEOUT
	erNoSuchThread    = 1094 // ER_NO_SUCH_THREAD
)

// Fence implements datastore.Switchover: it withholds the read-only
// bypass from tenant accounts (a no-op after PrepareSource), then SET
// GLOBAL read_only = ON, and returns @@gtid_binlog_pos.
//
// The SET waits for tenants' running statements and in-flight commits;
// transactions that are open but not committing need no wait, as their
// COMMIT fails once read_only is on. If tenants hold it off longer than
// fenceLockWait (a long statement, LOCK TABLES), Fence kills every tenant
// connection (all but hoard's, the replication account's and the
// server's own threads) and sets it again, until ctx ends. A fenced
// source gets nothing new and returns the same position.
//
// Hoard's own account keeps writing on a fenced source: nothing else of
// hoard's may change the source during a switchover.
func (e *Engine) Fence(ctx context.Context, c datastore.Conn) (string, error) {
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return "", err
	}
	defer s.Close()
	admin := adminName(c)
	if err := withholdReadOnlyBypass(ctx, s, admin); err != nil {
		return "", fmt.Errorf("mariadb: fence: %w", err)
	}
	if n, err := setReadOnly(ctx, s, admin); err != nil {
		return "", fmt.Errorf("mariadb: fence: %w", err)
	} else if n > 0 {
		e.log.Warn("fence: tenant statements held off read_only; their connections were killed", "connections", n)
	}
	var pos string
	if err := s.conn.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&pos); err != nil {
		return "", fmt.Errorf("mariadb: fence: gtid_binlog_pos: %w", err)
	}
	e.log.Debug("fenced", "position", pos)
	return pos, nil
}

// setReadOnly sets read_only on, each attempt waiting at most
// fenceLockWait (within ctx) for tenants' statements under way; after an
// attempt that timed out, it kills the tenants' connections (killTenants).
// It returns how many it killed. A server already read-only gets nothing.
func setReadOnly(ctx context.Context, s *session, admin string) (int, error) {
	killed := 0
	for {
		wait := fenceLockWait
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl))
		}
		secs := max(1, int(wait.Round(time.Second)/time.Second))
		if err := s.exec(ctx, "SET SESSION lock_wait_timeout = "+strconv.Itoa(secs)); err != nil {
			return killed, fmt.Errorf("lock_wait_timeout: %w", err)
		}
		err := s.exec(ctx, "SET GLOBAL read_only = ON")
		if err == nil {
			return killed, nil
		}
		if mysqlNumber(err) != erLockWaitTimeout || ctx.Err() != nil {
			return killed, fmt.Errorf("read_only: %w", err)
		}
		n, err := killTenants(ctx, s, admin)
		killed += n
		if err != nil {
			return killed, err
		}
	}
}

// mysqlNumber is the MariaDB error number in err, 0 if none.
func mysqlNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// killTenants kills the connections of every account but hoard's (admin)
// and the replication account (replicas' binary log dumps), other than s
// and the server's own threads, and returns how many it killed.
func killTenants(ctx context.Context, s *session, admin string) (int, error) {
	rows, err := s.conn.QueryContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST"+
		" WHERE ID <> CONNECTION_ID() AND USER NOT IN (?, ?, 'system user', 'event_scheduler')"+
		" AND COMMAND NOT IN ('Daemon', 'Binlog Dump', 'Killed')", admin, replUser)
	if err != nil {
		return 0, fmt.Errorf("list tenant connections: %w", err)
	}
	var ids []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("list tenant connections: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list tenant connections: %w", err)
	}
	n := 0
	for _, id := range ids {
		err := s.exec(ctx, "KILL CONNECTION "+strconv.FormatUint(id, 10))
		switch {
		case err == nil:
			n++
		case mysqlNumber(err) == erNoSuchThread: // gone meanwhile
		default:
			return n, fmt.Errorf("kill connection %d: %w", id, err)
		}
	}
	return n, nil
}

// Unfence implements datastore.Switchover: SET GLOBAL read_only = OFF,
// which the tenants' statements see at once. It refuses (Unprocessable) on
// a server that follows a source: tenants must never write on a replica.
func (e *Engine) Unfence(ctx context.Context, c datastore.Conn) error {
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := slaveStatus(ctx, s)
	if err != nil {
		return err
	}
	if st != nil {
		return fault.New(fault.Unprocessable, "mariadb.unfence", "the instance follows a source: it stays read-only until it is promoted")
	}
	if err := s.exec(ctx, "SET GLOBAL read_only = OFF"); err != nil {
		return fmt.Errorf("mariadb: unfence: read_only: %w", err)
	}
	e.log.Debug("unfenced")
	return nil
}

// WaitCaughtUp implements datastore.Switchover with MASTER_GTID_WAIT,
// which returns once the replica's gtid_slave_pos has reached position in
// each of its domains. It waits in calls of gtidWaitChunk, and between
// them fails early when the replica's replication has stopped or it
// follows no source (it will not get there by itself); else it waits
// until ctx ends. Position "" (which Fence never returns) means what the
// replica has received: it waits until the SQL thread has applied it.
func (e *Engine) WaitCaughtUp(ctx context.Context, c datastore.Conn, position string) error {
	const op = "mariadb.wait_caught_up"
	if !gtidPosRE.MatchString(position) {
		return fault.New(fault.Invalid, op, "malformed GTID position")
	}
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return err
	}
	defer s.Close()
	tick := time.NewTicker(replicaPoll)
	defer tick.Stop()
	for {
		if position != "" {
			chunk := gtidWaitChunk
			if dl, ok := ctx.Deadline(); ok {
				chunk = min(chunk, time.Until(dl))
			}
			if chunk <= 0 {
				return fmt.Errorf("mariadb: wait caught up: %s not reached: %w", position, context.DeadlineExceeded)
			}
			var res sql.NullInt64
			err := s.conn.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", position, chunk.Seconds()).Scan(&res)
			if err != nil {
				return fmt.Errorf("mariadb: wait caught up: %w", cmpErr(ctx, err))
			}
			if res.Valid && res.Int64 == 0 {
				return nil
			}
		}
		st, err := slaveStatus(ctx, s)
		if err != nil {
			return err
		}
		switch {
		case st == nil && position == "":
			return nil
		case st == nil:
			return fault.Errorf(fault.Unprocessable, op, "the instance follows no source and has not reached position %s", position)
		case position == "" && st.applied() && (*st)["Slave_SQL_Running"] == "Yes":
			return nil
		}
		if rs := st.status(); rs.State == datastore.ReplicaBroken {
			return fmt.Errorf("mariadb: wait caught up: replication stopped: %s", rs.Error)
		}
		if position == "" {
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("mariadb: wait caught up: %q not reached: %w", position, ctx.Err())
		}
	}
}

// cmpErr is err, or ctx's error if ctx ended (the driver then reports
// only a lost connection).
func cmpErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Follow implements datastore.Switchover with StartReplica's path: a
// replica of another source keeps its gtid_slave_pos (what it applied,
// which the new source, caught up on the old one, has in its binary log)
// and gets STOP SLAVE, CHANGE MASTER ... MASTER_USE_GTID=slave_pos and
// START SLAVE; one that already follows src only START SLAVE (its
// password again if it was not running). A server that follows no source
// (a fenced former source) first gets gtid_slave_pos =
// @@gtid_binlog_pos: everything it wrote, which the new source applied
// before its promotion. Not MASTER_USE_GTID=current_pos, which MariaDB
// deprecates since 10.10 and which would differ from how StartReplica
// configures (and recognises) a replica. A server that wrote what src
// lacks breaks on its first connection (src answers error 1236) and
// Follow returns that error. The server is left read-only, its tenants
// without the read-only bypass.
func (e *Engine) Follow(ctx context.Context, c datastore.Conn, src datastore.ReplicaSource) error {
	return e.follow(ctx, c, src, followOp{op: "mariadb.follow", what: "follow", from: func(ctx context.Context, s *session) (string, error) {
		var pos string
		if err := s.conn.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&pos); err != nil {
			return "", fmt.Errorf("mariadb: follow: gtid_binlog_pos: %w", err)
		}
		return pos, nil
	}})
}

// ReplicaPosition implements datastore.Switchover: on a replica, what it
// received from its source (the I/O thread's Gtid_IO_Pos, or
// @@gtid_slave_pos if it has applied more, as after a restart), since
// Promote applies all of that; on a server that follows no source,
// @@gtid_binlog_pos (everything it wrote or applied).
func (e *Engine) ReplicaPosition(ctx context.Context, c datastore.Conn) (string, error) {
	s, err := open(ctx, c, c.User, c.Password, pingTimeouts)
	if err != nil {
		return "", err
	}
	defer s.Close()
	st, err := slaveStatus(ctx, s)
	if err != nil {
		return "", err
	}
	if st == nil {
		var pos string
		if err := s.conn.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&pos); err != nil {
			return "", fmt.Errorf("mariadb: replica position: %w", err)
		}
		return pos, nil
	}
	var applied string
	if err := s.conn.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_slave_pos").Scan(&applied); err != nil {
		return "", fmt.Errorf("mariadb: replica position: %w", err)
	}
	pos, err := mergePositions(applied, (*st)["Gtid_IO_Pos"])
	if err != nil {
		return "", fmt.Errorf("mariadb: replica position: %w", err)
	}
	return pos, nil
}

// gtid is one domain's entry of a GTID position.
type gtid struct {
	server uint32
	seq    uint64
}

// parsePosition parses a GTID position into its entries by domain.
func parsePosition(p string) (map[uint32]gtid, error) {
	out := map[uint32]gtid{}
	if p = strings.TrimSpace(p); p == "" {
		return out, nil
	}
	for _, g := range strings.Split(p, ",") {
		parts := strings.Split(strings.TrimSpace(g), "-")
		if len(parts) != 3 {
			return nil, fmt.Errorf("mariadb: malformed GTID %q", truncate(g, 60))
		}
		d, err1 := strconv.ParseUint(parts[0], 10, 32)
		sv, err2 := strconv.ParseUint(parts[1], 10, 32)
		seq, err3 := strconv.ParseUint(parts[2], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("mariadb: malformed GTID %q", truncate(g, 60))
		}
		if _, dup := out[uint32(d)]; dup {
			return nil, fmt.Errorf("mariadb: GTID position %q names domain %d twice", truncate(p, 120), d)
		}
		out[uint32(d)] = gtid{server: uint32(sv), seq: seq}
	}
	return out, nil
}

// formatPosition is the inverse of parsePosition, domains in order.
func formatPosition(m map[uint32]gtid) string {
	ds := make([]uint32, 0, len(m))
	for d := range m {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%d-%d-%d", d, m[d].server, m[d].seq)
	}
	return strings.Join(parts, ",")
}

// mergePositions is, domain by domain, the furthest GTID of ps (the
// first of equal ones).
func mergePositions(ps ...string) (string, error) {
	out := map[uint32]gtid{}
	for _, p := range ps {
		m, err := parsePosition(p)
		if err != nil {
			return "", err
		}
		for d, g := range m {
			if cur, ok := out[d]; !ok || g.seq > cur.seq {
				out[d] = g
			}
		}
	}
	return formatPosition(out), nil
}

// ComparePositions implements datastore.Switchover. GTID positions are
// compared domain by domain on their sequence numbers, a domain one lacks
// counting as behind: a is behind b (-1) if it is behind or equal in every
// domain, ahead (1) if ahead or equal in every domain, equal (0) if equal
// in all. They cannot be compared (an error) when a is ahead in one
// domain and behind in another, or when one domain has the same sequence
// number from different servers (two histories).
func (e *Engine) ComparePositions(a, b string) (int, error) {
	return comparePositions(a, b)
}

func comparePositions(a, b string) (int, error) {
	ma, err := parsePosition(a)
	if err != nil {
		return 0, err
	}
	mb, err := parsePosition(b)
	if err != nil {
		return 0, err
	}
	ahead, behind := false, false
	for d, ga := range ma {
		gb, ok := mb[d]
		switch {
		case !ok || ga.seq > gb.seq:
			ahead = true
		case ga.seq < gb.seq:
			behind = true
		case ga.server != gb.server:
			return 0, fmt.Errorf("mariadb: GTID positions %q and %q diverge in domain %d", truncate(a, 120), truncate(b, 120), d)
		}
	}
	for d := range mb {
		if _, ok := ma[d]; !ok {
			behind = true
		}
	}
	switch {
	case ahead && behind:
		return 0, fmt.Errorf("mariadb: GTID positions %q and %q are not comparable: each is ahead in a domain", truncate(a, 120), truncate(b, 120))
	case ahead:
		return 1, nil
	case behind:
		return -1, nil
	}
	return 0, nil
}
