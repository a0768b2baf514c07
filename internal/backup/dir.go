package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Dir is a [Storage] in a local directory: each artifact is a file named
// by its key. Files are written to a hidden temporary name, synced and
// renamed, so a crash never leaves a partial artifact under a key; the
// temporary files of a crashed Put are removed by [NewDir]. A Put holds a
// flock on its temporary file, so that NewDir in another hoard process
// sharing the directory (replicas sharing a data directory) leaves a Put
// in progress alone.
type Dir struct {
	root string
}

var _ Storage = (*Dir)(nil)

// tmpPrefix marks partial artifacts.
const tmpPrefix = ".partial-"

// NewDir returns a Dir rooted at root (created 0700 if missing), after
// removing partial artifacts left by an earlier crash.
func NewDir(root string) (*Dir, error) {
	if root == "" {
		return nil, errors.New("backup: NewDir: empty root")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("backup: create %s: %w", abs, err)
	}
	err = filepath.WalkDir(abs, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() && strings.HasPrefix(e.Name(), tmpPrefix) {
			return removeAbandoned(p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("backup: clean %s: %w", abs, err)
	}
	return &Dir{root: abs}, nil
}

// removeAbandoned removes the temporary file p unless a Put still writes
// it (and holds its flock).
func removeAbandoned(p string) error {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil // a Put in progress
		}
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (d *Dir) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put implements Storage.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	p, err := d.path(key)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return 0, fmt.Errorf("backup: put %s: %w", key, err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), tmpPrefix+filepath.Base(p)+".*")
	if err != nil {
		return 0, fmt.Errorf("backup: put %s: %w", key, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.Remove(f.Name())
		}
		f.Close() // releases the flock, after the rename or the removal
	}()
	// Held until the file is renamed or removed (see removeAbandoned).
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return 0, fmt.Errorf("backup: put %s: lock: %w", key, err)
	}
	n, err := io.Copy(f, &ctxReader{ctx: ctx, r: r})
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		return 0, fmt.Errorf("backup: put %s: %w", key, err)
	}
	ok = true
	return n, nil
}

// Get implements Storage.
func (d *Dir) Get(_ context.Context, key string) (io.ReadCloser, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("backup: get %s: %w", key, err)
	}
	return f, nil
}

// Stat implements Storage.
func (d *Dir) Stat(_ context.Context, key string) (int64, error) {
	p, err := d.path(key)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return 0, fmt.Errorf("backup: stat %s: %w", key, err)
	}
	return fi.Size(), nil
}

// Delete implements Storage.
func (d *Dir) Delete(_ context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: delete %s: %w", key, err)
	}
	return nil
}

// Location implements Storage: a file URL.
func (d *Dir) Location(key string) string {
	return "file://" + filepath.ToSlash(filepath.Join(d.root, filepath.FromSlash(key)))
}

// KeyOf implements Storage: the path of a file URL below the root, read
// as Location writes it (not unescaped). The root is the one it is now: a
// location recorded before the directory was moved is foreign.
func (d *Dir) KeyOf(location string) (string, error) {
	prefix := "file://" + strings.TrimSuffix(filepath.ToSlash(d.root), "/") + "/"
	key, ok := strings.CutPrefix(location, prefix)
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrForeignLocation, location)
	}
	if err := checkKey(key); err != nil {
		return "", err
	}
	return key, nil
}
