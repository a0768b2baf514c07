package local

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Log rotation. Every file an engine (or the driver, for its standard
// error) writes in an instance's log directory grows while the engine
// runs: the general query log of a busy MariaDB by megabytes a minute.
// The supervisor of each running engine bounds them (rotateLogs, every
// rotateEvery): a file larger than maxLogBytes has its last maxLogBytes
// copied to "<name>.1" (replacing the previous generation) and is then
// truncated in place. Engines write their logs in append mode (or reopen
// them per line: Redis), so they go on writing at the new end without
// being told; the lines written between the copy and the truncation are
// lost, which is the price of not signalling the engine. A log directory
// thus holds at most about 2 × maxLogBytes per log, whatever the engine
// does.
const (
	// DefaultMaxLogBytes is the size above which a log file is rotated.
	DefaultMaxLogBytes = 16 << 20
	// rotatedSuffix names the one kept generation.
	rotatedSuffix = ".1"
)

// rotateLogs rotates every regular file in dir larger than max (files
// ending in rotatedSuffix excepted). It follows no symbolic link: the
// directory belongs to the instance's user. It returns every failure.
func rotateLogs(dir string, max int64) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasSuffix(name, rotatedSuffix) || strings.HasPrefix(name, ".") {
			continue
		}
		if err := rotateLog(filepath.Join(dir, name), max); err != nil {
			errs = append(errs, fmt.Errorf("rotate %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// rotateLog rotates path if it is a regular file larger than max.
func rotateLog(path string, max int64) error {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Size() <= max {
		return nil
	}
	// The kept generation is written beside and renamed over the old one:
	// a name the instance's user made (a link to elsewhere) is replaced,
	// never written through.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, io.NewSectionReader(f, fi.Size()-max, max)); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path+rotatedSuffix); err != nil {
		return err
	}
	ok = true
	return f.Truncate(0)
}
