package postgres

import (
	"context"
	"fmt"

	"github.com/hoard-db/hoard/internal/store"
)

var _ store.SettingsCopy = (*Store)(nil)

// AllSettings implements store.SettingsCopy.
func (s *Store) AllSettings(ctx context.Context) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, value FROM settings`)
	if err != nil {
		return nil, fmt.Errorf("postgres: all settings: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("postgres: all settings: %w", err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: all settings: %w", err)
	}
	return out, nil
}
