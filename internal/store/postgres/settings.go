package postgres

import (
	"context"
	"fmt"

	"github.com/hoard-db/hoard/internal/store"
)

var _ store.Settings = (*Store)(nil)

// InitSetting implements store.Settings.
func (s *Store) InitSetting(ctx context.Context, key, value string) (string, error) {
	// The insert either writes value or leaves the row of a concurrent
	// first writer, which the select (a new snapshot under READ COMMITTED)
	// then sees.
	if _, err := s.pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
		return "", fmt.Errorf("postgres: init setting %s: %w", key, err)
	}
	var cur string
	if err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&cur); err != nil {
		return "", fmt.Errorf("postgres: init setting %s: %w", key, err)
	}
	return cur, nil
}
