package enginelog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/hoard-db/hoard/internal/backup"
)

// Status is a log's status in the API (reference §16.1): Trove's wire
// strings; new values are only appended.
type Status string

// Log statuses.
const (
	// StatusDisabled: a USER log that is off.
	StatusDisabled Status = "Disabled"
	// StatusEnabled: on, with nothing to publish and nothing published.
	StatusEnabled Status = "Enabled"
	// StatusUnavailable: on, but its file cannot be read.
	StatusUnavailable Status = "Unavailable"
	// StatusReady: on, with lines to publish and none published yet.
	StatusReady Status = "Ready"
	// StatusPublished: every line is published.
	StatusPublished Status = "Published"
	// StatusPartial: some lines are published, newer ones are not.
	StatusPartial Status = "Partial"
	// StatusRotated: the file was rotated since the last publication; the
	// next publication replaces what was published.
	StatusRotated Status = "Rotated"
	// StatusRestartRequired: the log is switched but the engine only
	// follows at its next restart.
	StatusRestartRequired Status = "Restart_Required"
)

// PartBytes bounds one published part (Trove's guest_log_limit).
const PartBytes = 1_000_000

// MaxPublishBytes bounds what one publication reads from a log file: more
// than the driver lets a log grow between rotations, so that in practice
// everything new is published, but a bound all the same.
const MaxPublishBytes = 64 << 20

// headerBytes bounds the first line whose digest tells a rotated file.
const headerBytes = 4096

// FileState is what Stat saw of a log file.
type FileState struct {
	// Exists is false when there is no file (nothing was logged yet).
	Exists bool
	Size   int64
	// Header is the hex SHA-256 of the file's first line (at most
	// headerBytes): a rotated file starts with another line.
	Header string
}

// ErrNotRegular means a log's path names something other than a regular
// file (a symbolic link, a directory, a pipe), which is never read.
var ErrNotRegular = errors.New("enginelog: not a regular file")

// open opens path for reading without following a symbolic link or
// blocking on a FIFO, and checks it is a regular file.
func open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%w: %s", ErrNotRegular, path)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s", ErrNotRegular, path)
	}
	return f, nil
}

// Stat returns the state of the log file at path; a missing file is not
// an error (Exists false).
func Stat(path string) (FileState, error) {
	f, err := open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return FileState{}, nil
	}
	if err != nil {
		return FileState{}, err
	}
	defer f.Close()
	return stat(f)
}

func stat(f *os.File) (FileState, error) {
	fi, err := f.Stat()
	if err != nil {
		return FileState{}, err
	}
	b := make([]byte, min(fi.Size(), headerBytes))
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return FileState{}, err
	}
	first := b[:n]
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i+1]
	}
	sum := sha256.Sum256(first)
	return FileState{Exists: true, Size: fi.Size(), Header: hex.EncodeToString(sum[:])}, nil
}

// Part is one published piece of a log.
type Part struct {
	// Key is the part's name in the container.
	Key   string `json:"name"`
	Lines int    `json:"lines"`
	Bytes int64  `json:"bytes"`
}

// Meta is the metafile of a published log: Trove's fields, and the parts
// (so that discarding needs no listing of the storage).
type Meta struct {
	Name   string `json:"log_name"`
	Type   string `json:"log_type"`
	File   string `json:"log_file"`
	Size   int64  `json:"log_size"`
	Header string `json:"log_header_digest"`
	Parts  []Part `json:"parts,omitempty"`
}

// Rotated reports whether the file in f is not the one m was published
// from: smaller than what was published, or starting with another line.
func (m Meta) Rotated(f FileState) bool {
	return m.Size > 0 && (f.Size < m.Size || f.Header != m.Header)
}

// StatusOf returns a log's status and its published and pending byte
// counts. on says whether the log is written (always, for a SYS log);
// switching says that the engine follows its new setting only at a
// restart; readable is false when the file could not be read.
func StatusOf(on, switching, readable bool, f FileState, m Meta) (st Status, published, pending int64) {
	published = m.Size
	pending = max(f.Size-m.Size, 0)
	rotated := m.Rotated(f)
	if rotated {
		pending = f.Size
	}
	switch {
	case switching:
		return StatusRestartRequired, published, pending
	case !on:
		return StatusDisabled, published, pending
	case !readable:
		return StatusUnavailable, published, 0
	case rotated:
		return StatusRotated, published, pending
	case f.Size > m.Size && m.Size > 0:
		return StatusPartial, published, pending
	case f.Size > m.Size:
		return StatusReady, published, pending
	case m.Size > 0:
		return StatusPublished, published, pending
	}
	return StatusEnabled, published, pending
}

// Container is the container (the first segment of every key) published
// logs are stored under: Trove's default guest_log_container_name.
const Container = "database_logs"

// Ident names one log of one instance.
type Ident struct {
	InstanceID string
	Engine     string // the engine's name, e.g. "mariadb"
	Log        string
}

// Prefix is the log's prefix inside Container (the API's "prefix").
func (id Ident) Prefix() string { return id.InstanceID + "/" + id.Engine + "-" + id.Log + "/" }

// Metafile is the name of the log's metafile inside Container (the API's
// "metafile").
func (id Ident) Metafile() string {
	return id.InstanceID + "/" + id.Engine + "-" + id.Log + "_metafile"
}

// Publisher publishes logs into a backup storage.
type Publisher struct {
	Storage backup.Storage
	// Now names parts; time.Now if nil.
	Now func() time.Time
}

// Meta reads the metafile of id; a log never published has an empty one.
func (p Publisher) Meta(ctx context.Context, id Ident) (Meta, error) {
	return p.MetaOf(ctx, id.Metafile())
}

func (p Publisher) putMeta(ctx context.Context, id Ident, m Meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = p.Storage.Put(ctx, Container+"/"+id.Metafile(), bytes.NewReader(b))
	return err
}

// Discard removes everything published of id (its parts, then its
// metafile); discarding a log never published does nothing.
func (p Publisher) Discard(ctx context.Context, id Ident) error {
	m, err := p.Meta(ctx, id)
	if err != nil {
		return err
	}
	for _, part := range m.Parts {
		if err := p.Storage.Delete(ctx, Container+"/"+part.Key); err != nil {
			return err
		}
	}
	return p.Storage.Delete(ctx, Container+"/"+id.Metafile())
}

// Publish publishes the lines of the log file at path that are not
// published yet (all of them, after discarding the old ones, if the file
// was rotated), up to the last complete line and MaxPublishBytes, and
// returns the new metafile. A missing file publishes nothing. Parts are
// written before the metafile that names them: an interrupted publication
// leaves unnamed parts, which the next one writes again under new names.
func (p Publisher) Publish(ctx context.Context, id Ident, typ, path string) (Meta, error) {
	m, err := p.Meta(ctx, id)
	if err != nil {
		return Meta{}, err
	}
	f, err := open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return Meta{}, err
	}
	defer f.Close()
	fst, err := stat(f)
	if err != nil {
		return Meta{}, err
	}
	if m.Rotated(fst) {
		if err := p.Discard(ctx, id); err != nil {
			return Meta{}, err
		}
		m = Meta{}
	}
	m.Name, m.Type, m.File = id.Log, typ, path[strings.LastIndexByte(path, '/')+1:]
	n := min(fst.Size-m.Size, MaxPublishBytes)
	if n <= 0 {
		m.Header = fst.Header
		return m, p.putMeta(ctx, id, m)
	}
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, m.Size)
	if err != nil && !errors.Is(err, io.EOF) {
		return Meta{}, err
	}
	buf = buf[:got]
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	stamp := now().UTC().Format(partStamp)
	for i := 0; len(buf) > 0; i++ {
		part := cut(buf)
		if part == nil {
			break // an unfinished last line waits for the next publication
		}
		key := fmt.Sprintf("%slog-%s-%04d", id.Prefix(), stamp, i)
		if _, err := p.Storage.Put(ctx, Container+"/"+key, bytes.NewReader(part)); err != nil {
			return Meta{}, err
		}
		m.Parts = append(m.Parts, Part{Key: key, Lines: bytes.Count(part, []byte{'\n'}), Bytes: int64(len(part))})
		m.Size += int64(len(part))
		buf = buf[len(part):]
	}
	m.Header = fst.Header
	return m, p.putMeta(ctx, id, m)
}

// cut returns the first part of b: at most PartBytes, ending at a line
// end; a line longer than PartBytes is cut at PartBytes. It returns nil
// when b holds no complete line and is shorter than PartBytes.
func cut(b []byte) []byte {
	if len(b) > PartBytes {
		if i := bytes.LastIndexByte(b[:PartBytes], '\n'); i >= 0 {
			return b[:i+1]
		}
		return b[:PartBytes]
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[:i+1]
	}
	return nil
}

// partStamp is the layout of the time in a part's name.
const partStamp = "20060102T150405.000000000Z"

// PartTime is when part key was published, from its name
// ("<prefix>log-<time>-<n>"), plus n microseconds so that the parts of one
// publication sort in order by time (troveclient sorts them by their
// last_modified); the zero time for a name hoard did not make.
func PartTime(key string) time.Time {
	base := key[strings.LastIndexByte(key, '/')+1:]
	rest, ok := strings.CutPrefix(base, "log-")
	if !ok || len(rest) < len(partStamp)+2 {
		return time.Time{}
	}
	t, err := time.Parse(partStamp, rest[:len(partStamp)])
	if err != nil {
		return time.Time{}
	}
	var n int
	if _, err := fmt.Sscanf(rest[len(partStamp):], "-%d", &n); err != nil {
		return time.Time{}
	}
	return t.Add(time.Duration(n) * time.Microsecond)
}

// SplitPrefix checks that prefix is a log's prefix as Ident.Prefix makes
// it ("<instance>/<engine>-<log>/") and returns the instance id and the
// metafile's name.
func SplitPrefix(prefix string) (instanceID, metafile string, ok bool) {
	body, ok := strings.CutSuffix(prefix, "/")
	if !ok {
		return "", "", false
	}
	inst, name, ok := strings.Cut(body, "/")
	if !ok || inst == "" || name == "" || strings.Contains(name, "/") || !strings.Contains(name, "-") {
		return "", "", false
	}
	return inst, body + "_metafile", true
}

// MetaOf reads the metafile named metafile (inside Container); a log
// never published has an empty one.
func (p Publisher) MetaOf(ctx context.Context, metafile string) (Meta, error) {
	rc, err := p.Storage.Get(ctx, Container+"/"+metafile)
	if errors.Is(err, backup.ErrNotFound) {
		return Meta{}, nil
	}
	if err != nil {
		return Meta{}, err
	}
	defer rc.Close()
	var m Meta
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&m); err != nil {
		return Meta{}, fmt.Errorf("enginelog: metafile %s: %w", metafile, err)
	}
	return m, nil
}

// OpenPart opens the published part key (inside Container).
func (p Publisher) OpenPart(ctx context.Context, key string) (io.ReadCloser, error) {
	return p.Storage.Get(ctx, Container+"/"+key)
}
