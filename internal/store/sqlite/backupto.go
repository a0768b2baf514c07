package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
)

// BackupTo writes a consistent copy of the database at src to dst (which
// must not exist) with VACUUM INTO, while other processes (a serving
// hoard) keep reading and writing src: the copy is one read transaction,
// in WAL mode a snapshot that blocks no writer. src is neither created nor
// migrated. dst is created readable by its owner only (it holds password
// hashes and sealed secrets), as a single file with no WAL.
func BackupTo(ctx context.Context, src, dst string) error {
	if src == "" || dst == "" || src == ":memory:" {
		return errors.New("sqlite: backup: want two file paths")
	}
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	// Created empty and private first: SQLite writes into an existing empty
	// file, keeping its mode, so the copy is never readable by others.
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	f.Close()
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(src)
	dsn := "file:" + esc + fmt.Sprintf("?_pragma=busy_timeout(%d)", busyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		os.Remove(dst)
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		os.Remove(dst)
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	return nil
}
