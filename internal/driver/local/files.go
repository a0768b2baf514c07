package local

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// writeConfFile writes a file of hoard's own atomically (temp file, fsync,
// rename): owned by hoard, mode 0640, group of the instance user a, so the
// engine can read it but not rewrite it. A file that is already exactly
// that is left alone: every start renders the configuration again, and
// rewriting unchanged files cost a restart an fsync per file.
func (d *Driver) writeConfFile(path string, data []byte, a account) error {
	if unchanged(path, data, 0o640, a) {
		return nil
	}
	return writeAtomic(path, data, 0o640, a)
}

// unchanged reports whether path is a regular file (not a symbolic link)
// holding exactly data, with mode perm and the ownership writeAtomic gives
// it for a.
func unchanged(path string, data []byte, perm os.FileMode, a account) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != perm || fi.Size() != int64(len(data)) {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid != uint32(os.Geteuid()) || (a.asRoot && st.Gid != a.gid) {
		return false
	}
	buf := make([]byte, len(data)+1) // one more: a file that grew meanwhile differs
	n, err := io.ReadFull(f, buf)
	return (err == nil || errors.Is(err, io.ErrUnexpectedEOF)) && bytes.Equal(buf[:n], data)
}

// writePrivateFile writes a file only hoard may read (mode 0600)
// atomically: what the engine has no need to see (the handle, markers).
func (d *Driver) writePrivateFile(path string, data []byte) error {
	return writeAtomic(path, data, 0o600, account{})
}

// writeAtomic writes path atomically with mode perm and, when a is an
// instance user of a hoard running as root, a's group.
func writeAtomic(path string, data []byte, perm os.FileMode, a account) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if a.asRoot {
		if err := f.Chown(os.Geteuid(), int(a.gid)); err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// mkdirOwned creates dir if needed and (re)sets its mode and, as root, its
// owner: engineOwned directories belong to the instance user a, the others
// to hoard with a's group.
func mkdirOwned(dir string, perm os.FileMode, a account, engineOwned bool) error {
	if err := os.Mkdir(dir, perm); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if a.asRoot {
		uid := os.Geteuid()
		if engineOwned {
			uid = int(a.uid)
		}
		if err := os.Lchown(dir, uid, int(a.gid)); err != nil {
			return err
		}
	}
	return os.Chmod(dir, perm)
}

// openLog opens a log file for an engine process to write to. It does not
// follow symlinks: the log directory belongs to the engine user.
func openLog(path string, truncate bool) (*os.File, error) {
	flags := os.O_RDWR | os.O_CREATE | syscall.O_NOFOLLOW
	if truncate {
		flags |= os.O_TRUNC
	} else {
		flags |= os.O_APPEND
	}
	return os.OpenFile(path, flags, 0o640)
}

// tail returns at most the last n lines (and 4 KiB) of f.
func tail(f *os.File, n int) string {
	const limit = 4096
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-limit, 0)
	b := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	b = bytes.TrimRight(b, "\n")
	lines := bytes.Split(b, []byte("\n"))
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // the first one is cut
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// tailPath is tail of the file at path ("" if it cannot be read).
func tailPath(path string, n int) string {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return ""
	}
	defer f.Close()
	return tail(f, n)
}

// emptyDir removes everything inside dir, keeping dir itself.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// exists reports whether path exists (errors other than "not exist" count
// as existing, so that nothing is redone or removed by mistake).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// dirSize sums the sizes of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		if e.Type().IsRegular() {
			fi, err := e.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
