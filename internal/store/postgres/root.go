package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/hoard-db/hoard/internal/store"
)

var _ store.RootHistory = (*Store)(nil)

// RecordRootEnabled implements store.RootHistory.
func (s *Store) RecordRootEnabled(ctx context.Context, id, user string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO root_history (instance_id, user_id, enabled) VALUES ($1, $2, $3)
		ON CONFLICT (instance_id) DO NOTHING`, id, user, ts(at))
	if isForeignKey(err) {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: record root enabled %s: %w", id, err)
	}
	return nil
}

// RootEnabledAt implements store.RootHistory.
func (s *Store) RootEnabledAt(ctx context.Context, id string) (time.Time, error) {
	var at time.Time
	err := s.pool.QueryRow(ctx, `SELECT enabled FROM root_history WHERE instance_id = $1`, id).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("postgres: root history %s: %w", id, noRows(err))
	}
	return at.UTC(), nil
}

// ListRootHistory implements store.RootHistory.
func (s *Store) ListRootHistory(ctx context.Context) ([]store.RootRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT instance_id, user_id, enabled FROM root_history ORDER BY instance_id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list root history: %w", err)
	}
	defer rows.Close()
	var out []store.RootRecord
	for rows.Next() {
		var r store.RootRecord
		if err := rows.Scan(&r.InstanceID, &r.UserID, &r.Enabled); err != nil {
			return nil, fmt.Errorf("postgres: list root history: %w", err)
		}
		r.Enabled = r.Enabled.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list root history: %w", err)
	}
	return out, nil
}
