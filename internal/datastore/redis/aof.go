package redis

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Names of the append-only file in the data directory: the directory of
// Redis 7's multi-part AOF, and the single file of earlier versions, which
// Redis 7 also loads (and moves into the directory) when no directory exists.
const (
	aofDirName  = "appendonlydir"
	aofFileName = "appendonly.aof"
)

// seedAOF makes the RDB snapshot in dataDir the append-only file's base
// when there is a snapshot but no append-only file yet: a data directory
// restored from a backup (Restore writes dump.rdb) or written by a hoard
// that ran Redis without AOF. With appendonly yes, Redis loads only the
// append-only file, and would otherwise start empty (and then save that
// empty dataset over dump.rdb). An AOF may begin with an RDB preamble, so
// the snapshot itself is a valid one: it is hard-linked (instant, same
// owner and mode; Redis never writes into either file in place, it
// replaces them). Nothing is followed if a name is a symbolic link.
func seedAOF(dataDir string) error {
	for _, name := range []string{aofDirName, aofFileName} {
		if _, err := os.Lstat(filepath.Join(dataDir, name)); err == nil {
			return nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	rdb := filepath.Join(dataDir, rdbName)
	fi, err := os.Lstat(rdb)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a new server: Redis creates its AOF
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", rdbName)
	}
	return os.Link(rdb, filepath.Join(dataDir, aofFileName))
}
