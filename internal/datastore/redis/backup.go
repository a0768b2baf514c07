package redis

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

var (
	_ datastore.Backuper        = (*Engine)(nil)
	_ datastore.FullBackupsOnly = (*Engine)(nil)
)

// Meta keys and values recorded with a backup.
const (
	MetaBackupType = "backup_type"
	MetaFormat     = "format"
	// FormatRDBTar is a tar of dump.rdb (an RDB snapshot) and users.acl.
	FormatRDBTar = "redis-rdb-tar"
)

// rdbName is the snapshot file in the data directory (dbfilename).
const rdbName = "dump.rdb"

// saveTimeout bounds waiting for a BGSAVE.
const saveTimeout = 30 * time.Minute

// FullBackupsOnly implements datastore.FullBackupsOnly: an RDB snapshot is
// always the whole dataset.
func (e *Engine) FullBackupsOnly() {}

func errIncremental(op string) error {
	return fault.New(fault.NotImplemented, op, "Incremental backups are not supported by datastore redis.")
}

// Backup implements datastore.Backuper with an RDB snapshot (engines.md
// §4): BGSAVE (SCHEDULE, so that a running AOF rewrite only delays it),
// then INFO persistence is polled until no save runs and rdb_saves has
// grown, and rdb_last_bgsave_status is ok. The snapshot the server then
// has in the data directory (renamed into place whole, so the open file
// never changes under the copy) is written to w as a tar, with the ACL
// file (the users) next to it. The server keeps serving throughout (the
// save runs in a forked child). Only full backups.
func (e *Engine) Backup(ctx context.Context, c datastore.Conn, spec datastore.Spec, _ string, w io.Writer, parent *datastore.BackupRef) (map[string]string, error) {
	const op = "redis.backup"
	if parent != nil {
		return nil, errIncremental(op)
	}
	if spec.DataDir == "" || !filepath.IsAbs(spec.DataDir) {
		return nil, fault.New(fault.Invalid, op, "the data directory must be an absolute path")
	}
	if err := e.snapshot(ctx, c); err != nil {
		return nil, fmt.Errorf("redis: backup: %w", err)
	}
	tw := tar.NewWriter(w)
	if err := addFile(tw, spec.DataDir, rdbName, true); err != nil {
		return nil, fmt.Errorf("redis: backup: %w", err)
	}
	if err := addFile(tw, spec.DataDir, aclName, false); err != nil {
		return nil, fmt.Errorf("redis: backup: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("redis: backup: %w", err)
	}
	return map[string]string{MetaBackupType: "full", MetaFormat: FormatRDBTar}, nil
}

// snapshot makes the server write a new RDB snapshot and waits for it.
func (e *Engine) snapshot(ctx context.Context, c datastore.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, saveTimeout)
	defer cancel()
	cl, err := admin(ctx, c)
	if err != nil {
		return err
	}
	defer cl.Close()
	var before map[string]string
	for attempt := 1; ; attempt++ {
		// A save already running (a save point) would refuse ours: wait
		// for it first; its snapshot may predate the request.
		if before, err = waitSave(ctx, cl, -1); err != nil {
			return err
		}
		_, err = cl.do(ctx, "BGSAVE", "SCHEDULE")
		var re *replyError
		if err == nil {
			break
		}
		if !errors.As(err, &re) || attempt == 3 {
			return err
		}
	}
	info, err := waitSave(ctx, cl, atoi(before["rdb_saves"]))
	if err != nil {
		return err
	}
	if info["rdb_last_bgsave_status"] != "ok" {
		return errors.New("the snapshot failed (rdb_last_bgsave_status is not ok); see the server log")
	}
	e.log.Debug("snapshot done", "rdb_saves", info["rdb_saves"])
	return nil
}

// waitSave polls INFO persistence until no save is running and, when
// saves >= 0, more than saves snapshots were made.
func waitSave(ctx context.Context, cl *client, saves int) (map[string]string, error) {
	for {
		info, err := persistence(ctx, cl)
		if err != nil {
			return nil, err
		}
		if info["rdb_bgsave_in_progress"] == "0" && (saves < 0 || atoi(info["rdb_saves"]) > saves) {
			return info, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the snapshot: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// persistence returns the fields of INFO persistence.
func persistence(ctx context.Context, cl *client) (map[string]string, error) {
	v, err := cl.do(ctx, "INFO", "persistence")
	if err != nil {
		return nil, err
	}
	s, ok := v.(string)
	if !ok {
		return nil, errors.New("INFO replied with no text")
	}
	info := ParseInfo(s)
	if _, ok := info["rdb_saves"]; !ok {
		return nil, errors.New("INFO persistence has no rdb_saves (Redis 7 or later is needed)")
	}
	return info, nil
}

// ParseInfo parses the text of an INFO reply ("key:value" lines, "#"
// section headers) into a map.
func ParseInfo(s string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}

// addFile writes dir/name to tw as a regular file; a missing file is an
// error only when required. The file is opened without following links.
func addFile(tw *tar.Writer, dir, name string, required bool) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) && !required {
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
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", name)
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: fi.Size(), ModTime: fi.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	n, err := io.Copy(tw, io.LimitReader(f, fi.Size()))
	if err != nil {
		return err
	}
	if n != fi.Size() {
		return fmt.Errorf("%s shrank while it was copied", name)
	}
	return nil
}

// Restore implements datastore.Backuper: dump.rdb and users.acl of the
// (single, full) backup are written into spec.DataDir, where the server
// loads them at its first start (an empty users.acl if the backup has
// none: Redis refuses to start without its aclfile).
func (e *Engine) Restore(ctx context.Context, spec datastore.Spec, _ string, chain []io.Reader) error {
	const op = "redis.restore"
	switch {
	case len(chain) == 0:
		return fault.New(fault.Invalid, op, "nothing to restore")
	case len(chain) > 1:
		return errIncremental(op)
	}
	if spec.DataDir == "" || !filepath.IsAbs(spec.DataDir) {
		return fault.New(fault.Invalid, op, "the data directory must be an absolute path")
	}
	tr := tar.NewReader(chain[0])
	seen := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("redis: restore: read backup: %w", err)
		}
		name := h.Name
		if (name != rdbName && name != aclName) || h.Typeflag != tar.TypeReg || seen[name] {
			return fault.Errorf(fault.Invalid, op, "unexpected entry %.80q in the backup", name)
		}
		seen[name] = true
		if err := writeFile(filepath.Join(spec.DataDir, name), tr); err != nil {
			return fmt.Errorf("redis: restore: %w", err)
		}
	}
	if !seen[rdbName] {
		return fault.New(fault.Invalid, op, "the backup holds no RDB snapshot")
	}
	if !seen[aclName] {
		if err := writeFile(filepath.Join(spec.DataDir, aclName), strings.NewReader("")); err != nil {
			return fmt.Errorf("redis: restore: %w", err)
		}
	}
	return nil
}

// writeFile creates path (which must not exist, so no link is followed)
// with r's content.
func writeFile(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
