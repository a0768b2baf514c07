package redis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/engineproc"
	"github.com/hoard-db/hoard/internal/fault"
)

var _ datastore.Configurable = (*Engine)(nil)

// paramDef is a catalogue entry: its type and range, chosen per
// parameter from the Redis documentation (CONFIG GET reports only values).
type paramDef struct {
	typ     datastore.ParamType
	min     string
	max     string
	allowed []string
}

const maxInt32 = "2147483647"

var (
	boolean = paramDef{typ: datastore.ParamBoolean}
	// count is a non-negative integer.
	count = paramDef{typ: datastore.ParamInteger, min: "0", max: maxInt32}
)

// catalogue is what a configuration group may set on Redis: a safe subset
// of CONFIG GET *, every entry settable with CONFIG SET (so none needs a
// restart). Never: dir, dbfilename, logfile, pidfile, bind, port,
// unixsocket, requirepass, masterauth, aclfile, rename-command, save
// (the snapshots backups are made of), appendonly (an append-only file
// turned off and on again across restarts would be loaded stale, losing
// what was written meanwhile; appendfsync no is the cheap setting),
// maxmemory (from the flavor), replica settings, modules and anything
// protected.
var catalogue = map[string]paramDef{
	"activerehashing":             boolean,
	"appendfsync":                 {typ: datastore.ParamString, allowed: []string{"always", "everysec", "no"}},
	"active-expire-effort":        {typ: datastore.ParamInteger, min: "1", max: "10"},
	"busy-reply-threshold":        count,
	"dynamic-hz":                  boolean,
	"hash-max-listpack-entries":   count,
	"hash-max-listpack-value":     count,
	"hz":                          {typ: datastore.ParamInteger, min: "1", max: "500"},
	"latency-monitor-threshold":   count,
	"latency-tracking":            boolean,
	"lazyfree-lazy-eviction":      boolean,
	"lazyfree-lazy-expire":        boolean,
	"lazyfree-lazy-server-del":    boolean,
	"lazyfree-lazy-user-del":      boolean,
	"lazyfree-lazy-user-flush":    boolean,
	"lfu-decay-time":              count,
	"lfu-log-factor":              count,
	"list-compress-depth":         count,
	"list-max-listpack-size":      {typ: datastore.ParamInteger, min: "-5", max: maxInt32},
	"maxmemory-eviction-tenacity": {typ: datastore.ParamInteger, min: "0", max: "100"},
	"maxmemory-policy": {typ: datastore.ParamString, allowed: []string{"volatile-lru", "allkeys-lru",
		"volatile-lfu", "allkeys-lfu", "volatile-random", "allkeys-random", "volatile-ttl", "noeviction"}},
	"maxmemory-samples":           {typ: datastore.ParamInteger, min: "1", max: "64"},
	"notify-keyspace-events":      {typ: datastore.ParamString},
	"rdbcompression":              boolean,
	"set-max-intset-entries":      count,
	"slowlog-log-slower-than":     {typ: datastore.ParamInteger, min: "-1", max: maxInt32},
	"slowlog-max-len":             count,
	"stop-writes-on-bgsave-error": boolean,
	"stream-node-max-bytes":       count,
	"stream-node-max-entries":     count,
	"tcp-keepalive":               count,
	"timeout":                     count,
	"tracking-table-max-keys":     count,
	"zset-max-listpack-entries":   count,
	"zset-max-listpack-value":     count,
}

// paramNameRE is what a parameter name written to redis.conf may be.
var paramNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

// numberRE is a canonical integer.
var numberRE = regexp.MustCompile(`^-?[0-9]{1,19}$`)

// keyspaceEventsRE is what notify-keyspace-events may hold (the classes
// of https://redis.io/docs/manual/keyspace-notifications/ but '$', which
// the service's value rules do not allow).
var keyspaceEventsRE = regexp.MustCompile(`^[KEglshzxetmdnA]{0,16}$`)

// paramsCache holds the catalogue once discovered, per Engine.
type paramsCache struct {
	mu sync.Mutex
	ps []datastore.Parameter
}

// Parameters implements datastore.Configurable. It starts a throwaway
// redis-server (no TCP port, a private socket, no persistence) once per
// Engine, reads CONFIG GET * and keeps the catalogue entries the server
// has, with the types and ranges of the catalogue; well under a second.
func (e *Engine) Parameters(ctx context.Context) ([]datastore.Parameter, error) {
	e.params.mu.Lock()
	defer e.params.mu.Unlock()
	if e.params.ps != nil {
		return slices.Clone(e.params.ps), nil
	}
	have, err := e.configGetAll(ctx)
	if err != nil {
		return nil, err
	}
	ps, err := catalogueFor(have)
	if err != nil {
		return nil, err
	}
	e.params.ps = ps
	return slices.Clone(ps), nil
}

// catalogueFor returns the catalogue entries among the names a server
// reported, in name order.
func catalogueFor(have map[string]string) ([]datastore.Parameter, error) {
	var ps []datastore.Parameter
	for _, name := range slices.Sorted(keys(catalogue)) {
		if _, ok := have[name]; !ok {
			continue
		}
		d := catalogue[name]
		ps = append(ps, datastore.Parameter{Name: name, Type: d.typ, Min: d.min, Max: d.max, Allowed: slices.Clone(d.allowed)})
	}
	if len(ps) == 0 {
		return nil, errors.New("redis: parameters: the server reported none")
	}
	return ps, nil
}

func keys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// configGetAll runs a throwaway server and returns its CONFIG GET *.
func (e *Engine) configGetAll(ctx context.Context) (map[string]string, error) {
	bin := e.program(serverProgram)
	if bin == "" {
		return nil, datastore.ErrNotInstalled
	}
	dir, err := os.MkdirTemp("", "hoard-params-")
	if err != nil {
		return nil, fmt.Errorf("redis: parameters: %w", err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	srv, err := engineproc.StartThrowaway(cmd)
	if err != nil {
		return nil, fmt.Errorf("redis: parameters: start %s: %w", bin, err)
	}
	defer srv.Stop(30 * time.Second)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var cl *client
	err = srv.Poll(ctx, 10*time.Millisecond, func() (err error) {
		cl, err = dial(ctx, datastore.Conn{Socket: sock}, pingDial, opTimeout)
		return err
	})
	if engineproc.IsExit(err) {
		return nil, fmt.Errorf("redis: parameters: %v", err)
	}
	if err != nil {
		return nil, fmt.Errorf("redis: parameters: throwaway server did not answer: %w", err)
	}
	defer cl.Close()
	v, err := cl.do(ctx, "CONFIG", "GET", "*")
	if err != nil {
		return nil, fmt.Errorf("redis: parameters: %w", err)
	}
	return pairs(v)
}

// pairs turns a flat name, value array reply into a map.
func pairs(v any) (map[string]string, error) {
	arr, ok := v.([]any)
	if !ok || len(arr)%2 != 0 {
		return nil, errors.New("redis: parameters: CONFIG GET replied with no name/value pairs")
	}
	m := make(map[string]string, len(arr)/2)
	for i := 0; i < len(arr); i += 2 {
		k, ok1 := arr[i].(string)
		val, ok2 := arr[i+1].(string)
		if ok1 && ok2 {
			m[k] = val
		}
	}
	return m, nil
}

// configValue returns the redis.conf / CONFIG SET form of a group value.
func configValue(name, value string) (string, error) {
	const op = "redis.config"
	d, ok := catalogue[name]
	if !ok || !paramNameRE.MatchString(name) {
		return "", fault.Errorf(fault.Invalid, op, "configuration parameter %q cannot be set", truncate(name, 64))
	}
	switch d.typ {
	case datastore.ParamBoolean:
		switch value {
		case "true":
			return "yes", nil
		case "false":
			return "no", nil
		}
	case datastore.ParamInteger:
		if numberRE.MatchString(value) {
			return value, nil
		}
	case datastore.ParamString:
		if name == "notify-keyspace-events" {
			if keyspaceEventsRE.MatchString(value) {
				return value, nil
			}
		} else if slices.Contains(d.allowed, strings.ToLower(value)) {
			return strings.ToLower(value), nil
		}
	}
	return "", fault.Errorf(fault.Invalid, op, "configuration parameter %s has a value Redis does not accept", name)
}

// configLines returns the redis.conf lines of a group's values, in name
// order. An empty value is written as "" (Redis's empty string).
func configLines(cfg map[string]string) ([]string, error) {
	lines := make([]string, 0, len(cfg))
	for _, k := range slices.Sorted(keys(cfg)) {
		v, err := configValue(k, cfg[k])
		if err != nil {
			return nil, err
		}
		if v == "" {
			v = `""`
		}
		lines = append(lines, k+" "+v)
	}
	return lines, nil
}

// ApplyDynamic implements datastore.Configurable: CONFIG SET of every
// value at once (one command, so they apply together or not at all), as
// hoard's admin user. The same values are in redis.conf (Render), which
// the server cannot rewrite, so they survive a restart while a tenant's
// own CONFIG SET does not.
func (e *Engine) ApplyDynamic(ctx context.Context, c datastore.Conn, values map[string]string) error {
	if len(values) == 0 {
		return nil
	}
	args := []string{"CONFIG", "SET"}
	for _, k := range slices.Sorted(keys(values)) {
		v, err := configValue(k, values[k])
		if err != nil {
			return err
		}
		args = append(args, k, v)
	}
	cl, err := admin(ctx, c)
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := cl.do(ctx, args...); err != nil {
		return fmt.Errorf("redis: config set: %w", err)
	}
	return nil
}

// Defaults implements datastore.Configurable: what Render sets for spec's
// flavor (maxmemory in bytes, as CONFIG GET shows it).
func (e *Engine) Defaults(spec datastore.Spec) map[string]string {
	ram := min(max(spec.RAMMB, 0), maxRAMMB)
	return map[string]string{
		"port":             strconv.Itoa(spec.Port),
		"maxmemory":        strconv.FormatInt(int64(maxmemoryMB(ram))<<20, 10),
		"maxmemory-policy": "noeviction",
		"appendonly":       "yes",
		"appendfsync":      "everysec",
	}
}
