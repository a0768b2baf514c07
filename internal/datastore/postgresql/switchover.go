package postgresql

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// This file implements datastore.Switchover with PostgreSQL's streaming
// replication (see replication.go):
//
//   - Fence is datastore.ErrStopToFence: a tenant can turn
//     default_transaction_read_only off for its own session, and anything
//     stronger needs a superuser; a clean stop is the only sure fence. At a
//     fast or smart shutdown the checkpointer writes the shutdown
//     checkpoint, and every WAL sender sends the WAL up to and including it
//     and waits until its standby has flushed it before the server exits
//     (walsender.c, WalSndDone): connected standbys have every committed
//     write, asynchronous commits included.
//   - WaitCaughtUp waits for the replay of what the standby received, once
//     its WAL receiver no longer streams (the source is gone), or up to an
//     LSN.
//   - Follow relies on the server being rendered with ReplicaOf the new
//     source: for a running standby, pg_reload_conf() applies a changed
//     primary_conninfo (reloadable since PostgreSQL 13; the startup process
//     restarts the WAL receiver), and recovery_target_timeline 'latest'
//     (the default) makes it follow the promoted server onto its new
//     timeline. A source stopped cleanly by the fence and started as a
//     standby has WAL that ends exactly where the promoted replica's new
//     timeline forks off (the end of the shutdown checkpoint record), so it
//     follows without pg_rewind; a server whose WAL goes further (it
//     received what the promoted replica never did) has diverged, and
//     Follow says so.
//   - Positions are LSNs, "X/Y" in hexadecimal as PostgreSQL prints them.

var _ datastore.Switchover = (*Engine)(nil)

// followTimeout bounds Follow's wait for streaming when ctx has no
// deadline (a standby retries a failed connection every
// wal_retrieve_retry_interval, 5 s).
const followTimeout = time.Minute

// lsnRE is an LSN as pg_lsn prints and reads it: two hexadecimal numbers of
// at most 32 bits each.
var lsnRE = regexp.MustCompile(`^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$`)

// parseLSN reads an LSN ("16/B374D848") as a 64-bit WAL position.
func parseLSN(s string) (uint64, error) {
	m := lsnRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a WAL position (X/Y in hexadecimal)", printable(s))
	}
	hi, err1 := strconv.ParseUint(m[1], 16, 32)
	lo, err2 := strconv.ParseUint(m[2], 16, 32)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return hi<<32 | lo, nil
}

// formatLSN prints a WAL position as PostgreSQL does.
func formatLSN(p uint64) string { return fmt.Sprintf("%X/%X", p>>32, p&0xFFFFFFFF) }

// Fence implements datastore.Switchover: it always returns
// datastore.ErrStopToFence (and no position), touching nothing. A
// read-only default is no fence in PostgreSQL: every session, a tenant's
// included, may SET default_transaction_read_only or transaction_read_only
// off; only a superuser could stop that (ALTER SYSTEM, pg_hba.conf), and
// the caller owns the process anyway. The caller stops the server cleanly
// (SIGINT or SIGTERM, never SIGQUIT or SIGKILL): its WAL senders then
// deliver everything to the connected standbys before it exits.
func (e *Engine) Fence(context.Context, datastore.Conn) (string, error) {
	return "", fmt.Errorf("postgresql: fence: %w", datastore.ErrStopToFence)
}

// Unfence implements datastore.Switchover. A source fenced by a stop has
// nothing to undo: started again as it was rendered before (without
// ReplicaOf), it takes writes at once. It returns nil and touches nothing,
// whether the server runs or not.
func (e *Engine) Unfence(context.Context, datastore.Conn) error { return nil }

// catchUp is what WaitCaughtUp reads of a standby.
type catchUp struct {
	receiver string  // pg_stat_wal_receiver.status, "" without a WAL receiver
	replay   uint64  // pg_last_wal_replay_lsn()
	receive  *uint64 // pg_last_wal_receive_lsn(), nil before any streaming
	paused   bool    // pg_is_wal_replay_paused()
}

func (c catchUp) String() string {
	recv := "none"
	if c.receive != nil {
		recv = formatLSN(*c.receive)
	}
	status := c.receiver
	if status == "" {
		status = "not running"
	}
	replay := "replayed"
	if c.paused {
		replay = "replay paused at"
	}
	return fmt.Sprintf("WAL receiver %s, received up to %s, %s %s", status, recv, replay, formatLSN(c.replay))
}

func readCatchUp(ctx context.Context, conn *pgx.Conn) (catchUp, error) {
	var c catchUp
	var replay, receive *string
	err := conn.QueryRow(ctx, "SELECT coalesce((SELECT status FROM pg_catalog.pg_stat_wal_receiver), ''),"+
		" pg_last_wal_replay_lsn()::text, pg_last_wal_receive_lsn()::text, pg_is_wal_replay_paused()").
		Scan(&c.receiver, &replay, &receive, &c.paused)
	if err != nil {
		return catchUp{}, fmt.Errorf("postgresql: replay position: %w", err)
	}
	if replay == nil {
		return catchUp{}, errors.New("postgresql: replay position: the server reports none")
	}
	if c.replay, err = parseLSN(*replay); err != nil {
		return catchUp{}, fmt.Errorf("postgresql: replay position: %w", err)
	}
	if receive != nil {
		r, err := parseLSN(*receive)
		if err != nil {
			return catchUp{}, fmt.Errorf("postgresql: receive position: %w", err)
		}
		c.receive = &r
	}
	return c, nil
}

// WaitCaughtUp implements datastore.Switchover. With a position (an LSN,
// such as ReplicaPosition returns) it waits until the standby at c has
// replayed up to it. With position "" (after a fence by a stop) it waits
// until the standby's WAL receiver no longer streams (its source is gone)
// and it has replayed everything it received: pg_last_wal_replay_lsn() >=
// pg_last_wal_receive_lsn() (after a restart the receive position starts
// at the beginning of a segment, behind the replay). It waits until ctx
// ends, polling; the error then tells how far the standby is. A server
// that is not in recovery (promoted meanwhile) has applied all it will:
// nil. A malformed position is a fault.Invalid.
//
// "Everything the source sent" is what the standby received: a standby
// that was not connected when the source stopped lacks what it missed,
// and nothing on the standby can tell. ReplicaPosition orders replicas by
// what they received.
func (e *Engine) WaitCaughtUp(ctx context.Context, c datastore.Conn, position string) error {
	const op = "postgresql.wait_caught_up"
	var target uint64
	if position != "" {
		p, err := parseLSN(position)
		if err != nil {
			return fault.Errorf(fault.Invalid, op, "The position is not valid: %v.", err)
		}
		target = p
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
			e.log.Debug("caught up: the server is no longer a standby")
			return nil
		}
		st, err := readCatchUp(ctx, conn)
		if err != nil {
			return err
		}
		if position != "" && st.replay >= target {
			e.log.Debug("caught up", "position", position, "replayed", formatLSN(st.replay))
			return nil
		}
		if position == "" && st.receiver != "streaming" && st.receive != nil && st.replay >= *st.receive {
			e.log.Debug("caught up with a stopped source", "replayed", formatLSN(st.replay))
			return nil
		}
		select {
		case <-ctx.Done():
			want := "the end of what it received from a stopped source"
			if position != "" {
				want = formatLSN(target)
			}
			return fmt.Errorf("postgresql: wait caught up: the replica has not replayed %s (%s): %w", want, st, ctx.Err())
		case <-tick.C:
		}
	}
}

// ReplicaPosition implements datastore.Switchover: how far the standby at
// c has received (and flushed) its source's WAL, pg_last_wal_receive_lsn(),
// or its replay position when that is further (nothing streamed since it
// started, or a receive position reset to the start of a segment). A
// server not in recovery is a fault.Conflict wrapping
// datastore.ErrNotReplica.
func (e *Engine) ReplicaPosition(ctx context.Context, c datastore.Conn) (string, error) {
	const op = "postgresql.replica_position"
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rec, err := inRecovery(ctx, conn)
	if err != nil {
		return "", err
	}
	if !rec {
		return "", fault.Wrap(fault.Conflict, op, "The server is not a replica.", datastore.ErrNotReplica)
	}
	st, err := readCatchUp(ctx, conn)
	if err != nil {
		return "", err
	}
	p := st.replay
	if st.receive != nil {
		p = max(p, *st.receive)
	}
	return formatLSN(p), nil
}

// ComparePositions implements datastore.Switchover: LSNs compared as
// 64-bit WAL positions. Both must belong to one history (the replicas of
// one source), as WAL positions do not say on which timeline they are. A
// malformed position is a fault.Invalid.
func (e *Engine) ComparePositions(a, b string) (int, error) {
	const op = "postgresql.compare_positions"
	pa, err := parseLSN(a)
	if err != nil {
		return 0, fault.Errorf(fault.Invalid, op, "The position is not valid: %v.", err)
	}
	pb, err := parseLSN(b)
	if err != nil {
		return 0, fault.Errorf(fault.Invalid, op, "The position is not valid: %v.", err)
	}
	return cmp.Compare(pa, pb), nil
}

// Follow implements datastore.Switchover. The server at c must be a
// standby (pg_is_in_recovery(); else a fault.Conflict wrapping
// datastore.ErrNotReplica: a running source becomes a standby only by a
// restart with standby.signal, which Prepare writes for ReplicaOf) whose
// recovery_target_timeline is 'latest', and whose postgresql.conf (read
// through pg_file_settings) names src in primary_conninfo (else a
// fault.Conflict: render it with ReplicaOf src first; Prepare writes the
// password file). When the running server still uses another
// primary_conninfo, Follow reloads its configuration (pg_reload_conf());
// the startup process then restarts its WAL receiver with the new one.
// Follow then waits (until ctx's deadline, followTimeout without one) for
// the WAL receiver to stream from src on the newest timeline the server
// knows of (the promoted source's, whose history file the receiver fetched
// on connecting). A server whose WAL goes beyond the point where that
// timeline forked off its own has diverged and cannot follow src without
// a new seed: a fault.Conflict at once. A server that already follows src
// is left as it is.
func (e *Engine) Follow(ctx context.Context, c datastore.Conn, src datastore.ReplicaSource) error {
	const op = "postgresql.follow"
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, followTimeout)
		defer cancel()
	}
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rec, err := inRecovery(ctx, conn)
	if err != nil {
		return err
	}
	if !rec {
		return fault.Wrap(fault.Conflict, op, "The server is not a replica; it must be restarted as one first.", datastore.ErrNotReplica)
	}
	var target, live string
	if err := conn.QueryRow(ctx, "SELECT current_setting('recovery_target_timeline'), current_setting('primary_conninfo')").
		Scan(&target, &live); err != nil {
		return fmt.Errorf("postgresql: follow: settings: %w", err)
	}
	if target != "latest" {
		return fault.Errorf(fault.Conflict, op, "The replica's recovery_target_timeline is %s, not latest: it would not follow a promoted source.", printable(target))
	}
	file, err := fileConninfo(ctx, conn)
	if err != nil {
		return err
	}
	if !conninfoNames(file, src) {
		return fault.Errorf(fault.Conflict, op, "The replica's configuration does not name %s port %d as its source.",
			printable(src.Address), src.Port)
	}
	if live != file {
		if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
			return fmt.Errorf("postgresql: follow: reload: %w", err)
		}
		e.log.Debug("replica reloaded for its new source", "source", src.Address, "port", src.Port)
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		w, err := readWalReceiver(ctx, conn)
		if err != nil {
			return err
		}
		tl, err := readTimelines(ctx, conn)
		if err != nil {
			return err
		}
		current := tl.segment
		if w.tli > 0 {
			current = w.tli
		}
		if w.status == "streaming" && w.host == src.Address && w.port == src.Port && w.tli >= tl.history {
			e.log.Debug("replica follows", "source", src.Address, "port", src.Port, "timeline", w.tli)
			return nil
		}
		if tl.history > current {
			if err := checkFork(ctx, conn, tl.history, current); err != nil {
				return fault.Wrap(fault.Conflict, op, "The replica has changes its new source does not have; it must be seeded again.", err)
			}
		}
		select {
		case <-ctx.Done():
			status := w.status
			if status == "" {
				status = "not running"
			}
			return fmt.Errorf("postgresql: follow: the replica does not stream from %s port %d on timeline %d (WAL receiver %s, from %s port %d on timeline %d): %w",
				printable(src.Address), src.Port, tl.history, status, printable(w.host), w.port, w.tli, ctx.Err())
		case <-tick.C:
		}
	}
}

// fileConninfo returns primary_conninfo as the server's configuration
// files now have it (pg_file_settings reads them when queried; the last
// valid line wins), "" if they have none.
func fileConninfo(ctx context.Context, conn *pgx.Conn) (string, error) {
	var v string
	err := conn.QueryRow(ctx, "SELECT setting FROM pg_catalog.pg_file_settings"+
		" WHERE name = 'primary_conninfo' AND error IS NULL ORDER BY seqno DESC LIMIT 1").Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("postgresql: follow: configuration file: %w", err)
	}
	return v, nil
}

// conninfoNames reports whether the libpq connection string ci names
// src's host and port (as primaryConninfo writes them).
func conninfoNames(ci string, src datastore.ReplicaSource) bool {
	kv, err := parseConninfo(ci)
	if err != nil {
		return false
	}
	port := kv["port"]
	if port == "" {
		port = "5432"
	}
	return kv["host"] == src.Address && port == strconv.Itoa(src.Port)
}

// parseConninfo reads a libpq keyword/value connection string
// (libpq's conninfo_parse): keyword = value pairs separated by blanks; a
// value is single-quoted or runs to the next blank; a backslash escapes
// the next character in either.
func parseConninfo(s string) (map[string]string, error) {
	kv := map[string]string{}
	isSpace := func(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v' }
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return kv, nil
		}
		k := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[k:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) || s[i] != '=' || key == "" {
			return nil, fmt.Errorf("missing \"=\" after %q", printable(key))
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		var v strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			for {
				if i == len(s) {
					return nil, errors.New("unterminated quoted string")
				}
				if s[i] == '\\' && i+1 < len(s) {
					i++
				} else if s[i] == '\'' {
					i++
					break
				}
				v.WriteByte(s[i])
				i++
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				v.WriteByte(s[i])
				i++
			}
		}
		kv[key] = v.String()
	}
}

// timelines are the newest timelines a standby's pg_wal holds: that of a
// history file (1 without one) and that of a WAL segment.
type timelines struct{ history, segment uint32 }

var (
	historyFileRE = regexp.MustCompile(`^([0-9A-F]{8})\.history$`)
	segmentFileRE = regexp.MustCompile(`^([0-9A-F]{8})[0-9A-F]{16}$`)
)

// readTimelines lists pg_wal (pg_ls_waldir(), for superusers and
// pg_monitor).
func readTimelines(ctx context.Context, conn *pgx.Conn) (timelines, error) {
	rows, err := conn.Query(ctx, "SELECT name FROM pg_catalog.pg_ls_waldir()")
	if err != nil {
		return timelines{}, fmt.Errorf("postgresql: list pg_wal: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return timelines{}, fmt.Errorf("postgresql: list pg_wal: %w", err)
	}
	return walTimelines(names), nil
}

// walTimelines finds the newest timelines among the names of pg_wal's
// files.
func walTimelines(names []string) timelines {
	tl := timelines{history: 1}
	for _, n := range names {
		if m := historyFileRE.FindStringSubmatch(n); m != nil {
			if v, err := strconv.ParseUint(m[1], 16, 32); err == nil {
				tl.history = max(tl.history, uint32(v))
			}
		} else if m := segmentFileRE.FindStringSubmatch(n); m != nil {
			if v, err := strconv.ParseUint(m[1], 16, 32); err == nil {
				tl.segment = max(tl.segment, uint32(v))
			}
		}
	}
	return tl
}

// errDiverged: the standby's WAL goes where its new source's history does
// not.
var errDiverged = errors.New("postgresql: the replica's WAL diverged from its source's history")

// checkFork reads the history file of timeline newest in the standby's
// pg_wal and returns errDiverged if the standby, on timeline current, has
// replayed past the point where its history leaves current (or current is
// not in it at all). A server can follow a newer timeline only from WAL
// that is still the same on it.
func checkFork(ctx context.Context, conn *pgx.Conn, newest, current uint32) error {
	var content, replay string
	err := conn.QueryRow(ctx, "SELECT pg_catalog.pg_read_file($1), pg_last_wal_replay_lsn()::text",
		fmt.Sprintf("pg_wal/%08X.history", newest)).Scan(&content, &replay)
	if err != nil {
		return fmt.Errorf("postgresql: timeline history %d: %w", newest, err)
	}
	fork, ok, err := forkPoint(content, current)
	if err != nil {
		return fmt.Errorf("postgresql: timeline history %d: %w", newest, err)
	}
	if !ok {
		return fmt.Errorf("%w: timeline %d is not in the history of timeline %d", errDiverged, current, newest)
	}
	at, err := parseLSN(replay)
	if err != nil {
		return fmt.Errorf("postgresql: replay position: %w", err)
	}
	if at > fork {
		return fmt.Errorf("%w: it replayed timeline %d up to %s, past %s where timeline %d forks off",
			errDiverged, current, formatLSN(at), formatLSN(fork), newest)
	}
	return nil
}

// forkPoint reads a timeline history file (timeline.c: lines "parent TLI
// <tab> switch point <tab> reason", '#' comments) and returns the switch
// point where the history leaves timeline tli; ok is false if tli is not
// in it.
func forkPoint(content string, tli uint32) (lsn uint64, ok bool, err error) {
	for line := range strings.Lines(content) {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) < 2 {
			return 0, false, fmt.Errorf("bad line %q", printable(strings.TrimSpace(line)))
		}
		parent, err := strconv.ParseUint(f[0], 10, 32)
		if err != nil {
			return 0, false, fmt.Errorf("bad timeline %q", printable(f[0]))
		}
		if uint32(parent) != tli {
			continue
		}
		p, err := parseLSN(f[1])
		if err != nil {
			return 0, false, err
		}
		return p, true, nil
	}
	return 0, false, nil
}
