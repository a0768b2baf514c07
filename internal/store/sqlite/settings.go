package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hoard-db/hoard/internal/store"
)

var _ store.Settings = (*Store)(nil)

// InitSetting implements store.Settings.
func (s *Store) InitSetting(ctx context.Context, key, value string) (string, error) {
	var cur string
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&cur)
	})
	if err != nil {
		return "", fmt.Errorf("sqlite: init setting %s: %w", key, err)
	}
	return cur, nil
}
