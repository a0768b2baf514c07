package postgres

import (
	"context"
	"fmt"
	"time"
)

// ReferenceTime implements clock.Source: the database server's clock, the
// one every hoard replica sharing this store can agree on.
func (s *Store) ReferenceTime(ctx context.Context) (time.Time, error) {
	var t time.Time
	if err := s.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("postgres: read server time: %w", err)
	}
	return t, nil
}
