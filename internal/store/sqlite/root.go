package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hoard-db/hoard/internal/store"
)

var _ store.RootHistory = (*Store)(nil)

// RecordRootEnabled implements store.RootHistory.
func (s *Store) RecordRootEnabled(ctx context.Context, id, user string, at time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM instances WHERE id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO root_history (instance_id, user_id, enabled) VALUES (?, ?, ?)
			ON CONFLICT (instance_id) DO NOTHING`, id, user, at.UTC().Unix())
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: record root enabled %s: %w", id, err)
	}
	return nil
}

// RootEnabledAt implements store.RootHistory.
func (s *Store) RootEnabledAt(ctx context.Context, id string) (time.Time, error) {
	var sec int64
	err := s.db.QueryRowContext(ctx, `SELECT enabled FROM root_history WHERE instance_id = ?`, id).Scan(&sec)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, fmt.Errorf("sqlite: root history %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlite: root history %s: %w", id, err)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// ListRootHistory implements store.RootHistory.
func (s *Store) ListRootHistory(ctx context.Context) ([]store.RootRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT instance_id, user_id, enabled FROM root_history ORDER BY instance_id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list root history: %w", err)
	}
	defer rows.Close()
	var out []store.RootRecord
	for rows.Next() {
		var (
			r   store.RootRecord
			sec int64
		)
		if err := rows.Scan(&r.InstanceID, &r.UserID, &sec); err != nil {
			return nil, fmt.Errorf("sqlite: list root history: %w", err)
		}
		r.Enabled = time.Unix(sec, 0).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list root history: %w", err)
	}
	return out, nil
}
