package redis

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// This file implements datastore.Switchover. A position is a replication
// offset in decimal: the bytes of the replication stream a server has
// produced (a source's master_repl_offset) or applied (a replica's
// slave_repl_offset). A source and its replicas count the same stream, and
// a promoted replica goes on counting from where it was, so the offsets of
// one replication set are comparable as integers.
//
// A fence is CLIENT PAUSE WRITE (Redis 6.2 and later): a client's write
// command (and EVAL, PUBLISH, ...) waits in the server, unanswered, until
// the pause ends, while reads go on; the server neither expires nor evicts
// keys meanwhile. Its offset still grows by the PINGs it sends its
// replicas (every 10 s), which are no writes. A paused server runs the
// commands it held back once the pause ends: Follow lifts the pause only
// after REPLICAOF, so that they meet a read-only replica and fail with
// READONLY. Tenant users lack CLIENT (the @admin category) and root lacks
// CLIENT PAUSE and UNPAUSE and SHUTDOWN (rootRules), so neither can end a
// fence.

var _ datastore.Switchover = (*Engine)(nil)

// fenceTimeout is the CLIENT PAUSE timeout of a fence: long enough that
// only Unfence, Follow or a restart of the server ends it (a fence that
// ended by itself after its replica's promotion would make two sources).
const fenceTimeout = 100 * 365 * 24 * time.Hour

// maxPositionDigits bounds a position's decimal digits (an int64).
const maxPositionDigits = 19

// Fence implements datastore.Switchover. On a source it gives tenant users
// and root their source rules again (saved), so that a root enabled by an
// older hoard loses CLIENT PAUSE and UNPAUSE too, then pauses the
// server's writes (CLIENT PAUSE <fenceTimeout> WRITE) and returns its
// master_repl_offset, read after the pause so that it counts every write
// the server answered. A repeat pauses again (a no-op) and returns the
// offset then, which is ahead of the first only by the PINGs the source
// sent its replicas since (they receive those too). A server that is a
// replica takes no writes: it is not paused (that would hold back what
// its source sends), and its position is its slave_repl_offset; so a
// Fence run again after Follow changes nothing. The fence lasts until
// Unfence or Follow; a restart of the server ends it.
func (e *Engine) Fence(ctx context.Context, c datastore.Conn) (string, error) {
	cl, err := admin(ctx, c)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	info, err := replicationInfo(ctx, cl)
	if err != nil {
		return "", fmt.Errorf("redis: fence: %w", err)
	}
	if info["role"] == "slave" {
		pos, err := offset(info, "slave_repl_offset")
		if err != nil {
			return "", fmt.Errorf("redis: fence: %w", err)
		}
		return pos, nil
	}
	if err := setRoleRules(ctx, cl, c.User, false); err != nil {
		return "", fmt.Errorf("redis: fence: %w", err)
	}
	if _, err := doLoaded(ctx, cl, "CLIENT", "PAUSE", strconv.FormatInt(fenceTimeout.Milliseconds(), 10), "WRITE"); err != nil {
		return "", fmt.Errorf("redis: fence (CLIENT PAUSE WRITE needs Redis 6.2 or later): %w", err)
	}
	if info, err = replicationInfo(ctx, cl); err != nil {
		return "", fmt.Errorf("redis: fence: %w", err)
	}
	pos, err := offset(info, "master_repl_offset")
	if err != nil {
		return "", fmt.Errorf("redis: fence: %w", err)
	}
	e.log.Debug("fenced", "position", pos)
	return pos, nil
}

// Unfence implements datastore.Switchover: CLIENT UNPAUSE, which lets the
// writes the fence held back run and takes new ones. A server that is not
// paused is left as it is.
func (e *Engine) Unfence(ctx context.Context, c datastore.Conn) error {
	cl, err := admin(ctx, c)
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := doLoaded(ctx, cl, "CLIENT", "UNPAUSE"); err != nil {
		return fmt.Errorf("redis: unfence: %w", err)
	}
	e.log.Debug("unfenced")
	return nil
}

// WaitCaughtUp implements datastore.Switchover. It polls INFO replication
// of the server at c until its applied offset (slave_repl_offset of a
// replica; master_repl_offset of a server already promoted, which keeps
// the offset it had) reaches position. Position "" (a source that was
// stopped) waits until the replica has lost its link to the source and
// applied everything it read (slave_read_repl_offset equals
// slave_repl_offset); a server that follows no source has nothing more to
// apply. It waits as long as ctx allows.
func (e *Engine) WaitCaughtUp(ctx context.Context, c datastore.Conn, position string) error {
	const op = "redis.wait_caught_up"
	var want int64
	if position != "" {
		var err error
		if want, err = parsePosition(op, position); err != nil {
			return err
		}
	}
	cl, err := admin(ctx, c)
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		info, err := replicationInfo(ctx, cl)
		if err != nil {
			return fmt.Errorf("redis: wait caught up: %w", err)
		}
		done, have, err := caughtUp(info, position, want)
		if err != nil {
			return fmt.Errorf("redis: wait caught up: %w", err)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis: wait caught up: the replica applied up to %d of %q (master_link_status %.20q): %w",
				have, position, info["master_link_status"], ctx.Err())
		case <-time.After(linkPoll):
		}
	}
}

// caughtUp reports, from a server's INFO replication, whether it has
// applied position (parsed as want; see WaitCaughtUp), and the offset it
// has applied.
func caughtUp(info map[string]string, position string, want int64) (bool, int64, error) {
	field := "slave_repl_offset"
	if info["role"] == "master" {
		field = "master_repl_offset"
	}
	have, err := offsetInt(info, field)
	if err != nil {
		return false, 0, err
	}
	if position != "" {
		return have >= want, have, nil
	}
	if info["role"] == "master" {
		return true, have, nil
	}
	read, err := offsetInt(info, "slave_read_repl_offset")
	if err != nil {
		return false, have, err
	}
	return info["master_link_status"] != "up" && read == have, have, nil
}

// Follow implements datastore.Switchover: on the running server at c
// (a fenced former source, or a replica of another source) it does what
// StartReplica does (the replica's rules for tenant users and root,
// masteruser, masterauth and replica-read-only yes, REPLICAOF src unless
// the server follows it already), then lifts a fence (CLIENT UNPAUSE: the
// server is a read-only replica by now, so what the fence held back fails
// with READONLY), and waits for master_link_status:up. Redis continues
// from what the server has when it can (a partial resynchronisation: the
// promoted replica knows its former source's replication ID and offset),
// else it makes a full one; either keeps every write src has. A server
// that already follows src is left as it is. It waits as long as ctx
// allows.
func (e *Engine) Follow(ctx context.Context, c datastore.Conn, src datastore.ReplicaSource) error {
	host, err := checkSource("redis.follow", src, true)
	if err != nil {
		return err
	}
	cl, err := admin(ctx, c)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := e.follow(ctx, cl, c.User, host, src, true); err != nil {
		return fmt.Errorf("redis: follow: %w", err)
	}
	return nil
}

// ReplicaPosition implements datastore.Switchover: the replica's
// slave_repl_offset, how much of its source's replication stream it has
// applied; datastore.ErrNotReplica for a server that follows no source.
func (e *Engine) ReplicaPosition(ctx context.Context, c datastore.Conn) (string, error) {
	cl, err := admin(ctx, c)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	info, err := replicationInfo(ctx, cl)
	if err != nil {
		return "", fmt.Errorf("redis: replica position: %w", err)
	}
	if info["role"] != "slave" {
		return "", datastore.ErrNotReplica
	}
	pos, err := offset(info, "slave_repl_offset")
	if err != nil {
		return "", fmt.Errorf("redis: replica position: %w", err)
	}
	return pos, nil
}

// ComparePositions implements datastore.Switchover: positions are
// replication offsets, compared as integers; anything else is a
// fault.Invalid error.
func (e *Engine) ComparePositions(a, b string) (int, error) {
	const op = "redis.compare_positions"
	x, err := parsePosition(op, a)
	if err != nil {
		return 0, err
	}
	y, err := parsePosition(op, b)
	if err != nil {
		return 0, err
	}
	return cmp.Compare(x, y), nil
}

// parsePosition parses a position: a replication offset, decimal digits
// only.
func parsePosition(op, s string) (int64, error) {
	bad := fault.Errorf(fault.Invalid, op, "position %.30q is not a Redis replication offset", s)
	if s == "" || len(s) > maxPositionDigits {
		return 0, bad
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, bad
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, bad
	}
	return n, nil
}

// offset returns the replication offset field of INFO replication as a
// position.
func offset(info map[string]string, field string) (string, error) {
	n, err := offsetInt(info, field)
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(n, 10), nil
}

// offsetInt returns the replication offset field of INFO replication.
func offsetInt(info map[string]string, field string) (int64, error) {
	n, err := strconv.ParseInt(info[field], 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: INFO replication %s %.30q", errProtocol, field, info[field])
	}
	return n, nil
}
