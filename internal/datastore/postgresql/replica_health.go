package postgresql

import (
	"fmt"
	"sync"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
)

// DefaultReplicaBrokenAfter is Config.ReplicaBrokenAfter's default. A
// standby's WAL receiver that fails is started again every
// wal_retrieve_retry_interval (5 s), and a source hoard restarts is back
// within seconds, so a standby that has not streamed for 30 s (six
// attempts) while it kept receiving nothing is one a tenant should see,
// not a blip: most often its source removed WAL it still needs (it must be
// seeded again) or refuses its login.
const DefaultReplicaBrokenAfter = 30 * time.Second

// receiverWatch remembers, per standby, since when ReplicaStatus has found
// no WAL receiver streaming. PostgreSQL keeps no such time once its WAL
// receiver has exited (pg_stat_wal_receiver then has no row), nor tells
// through SQL why it failed (the receiver logs it), so the engine keeps
// it: the first look that finds no stream starts the clock, a look that
// finds one, or a received position that moved in between, resets it.
// Entries not looked at for a while are dropped (the clock starts again
// at the next look).
type receiverWatch struct {
	mu   sync.Mutex
	down map[string]notStreaming
}

// notStreaming is what receiverWatch keeps of one standby.
type notStreaming struct {
	since    time.Time // first look that found no stream
	seen     time.Time // last look
	received string    // pg_last_wal_receive_lsn() at the last look
}

// watchForget is how long receiverWatch keeps a standby nobody looked at.
const watchForget = 10 * time.Minute

// look records a look at the standby key at now: streaming, or not with
// received the position it has received. It returns for how long the
// standby has not streamed (0 while it streams).
func (w *receiverWatch) look(key string, now time.Time, streaming bool, received string) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, d := range w.down {
		if now.Sub(d.seen) > watchForget {
			delete(w.down, k)
		}
	}
	if streaming {
		delete(w.down, key)
		return 0
	}
	d, ok := w.down[key]
	if !ok || d.received != received {
		d = notStreaming{since: now, received: received}
	}
	d.seen = now
	if w.down == nil {
		w.down = map[string]notStreaming{}
	}
	w.down[key] = d
	return now.Sub(d.since)
}

// watchKey names the standby c reaches.
func watchKey(c datastore.Conn) string {
	if c.Socket != "" {
		return c.Socket
	}
	return fmt.Sprintf("%s:%d", c.Address, c.Port)
}

// notStreamingStatus is the ReplicaStatus of a standby whose WAL receiver
// does not stream (status, "" without a row) and has not for down, whose
// primary_conninfo is conninfo: connecting, or broken from brokenAfter on.
func notStreamingStatus(status, conninfo string, down, brokenAfter time.Duration) datastore.ReplicaStatus {
	if down < brokenAfter {
		return datastore.ReplicaStatus{State: datastore.ReplicaConnecting, LagSeconds: -1}
	}
	if status == "" {
		status = "not running"
	}
	src := "its source"
	if kv, err := parseConninfo(conninfo); err == nil && kv["host"] != "" {
		src = "the source " + printable(kv["host"])
		if kv["port"] != "" {
			src += " port " + printable(kv["port"])
		}
	}
	return datastore.ReplicaStatus{State: datastore.ReplicaBroken, LagSeconds: -1, Error: fmt.Sprintf(
		"The replica has not streamed from %s for %d seconds (WAL receiver %s); the source may have removed WAL the replica needs "+
			"(then it must be created again) or refuse its login; the server log tells.",
		src, int(down/time.Second), status)}
}
