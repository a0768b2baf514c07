package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

const taskCols = `id, instance_id, kind, state, step, step_name, owner, lease_until, attempts, payload, error, created, updated`

func scanTask(sc scanner) (*model.Task, error) {
	var (
		t                       model.Task
		lease, created, updated int64
	)
	if err := sc.Scan(&t.ID, &t.InstanceID, &t.Kind, &t.State, &t.Step, &t.StepName, &t.Owner, &lease, &t.Attempts,
		&t.Payload, &t.Error, &created, &updated); err != nil {
		return nil, err
	}
	t.LeaseUntil = fromUnix(lease)
	t.Created = fromUnix(created)
	t.Updated = fromUnix(updated)
	return &t, nil
}

// insertTask inserts t, defaulting its State to pending and zero times to now.
func insertTask(ctx context.Context, tx *sql.Tx, t *model.Task, now time.Time) error {
	if t.State == "" {
		t.State = model.TaskPending
	}
	if t.Created.IsZero() {
		t.Created = now
	}
	if t.Updated.IsZero() {
		t.Updated = t.Created
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO tasks (`+taskCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.InstanceID, string(t.Kind), string(t.State), t.Step, t.StepName, t.Owner, unix(t.LeaseUntil), t.Attempts,
		t.Payload, t.Error, unix(t.Created), unix(t.Updated))
	if isUnique(err) {
		// A duplicate task id, or a second unfinished task for the instance.
		return fmt.Errorf("task %s: %w", t.ID, store.ErrExists)
	}
	return err
}

// claimable selects the tasks ClaimTask may take at time ? (Unix seconds).
const claimable = `(state = 'pending' OR (state = 'running' AND lease_until < ?))`

// ClaimTask implements store.Tasks.
func (s *Store) ClaimTask(ctx context.Context, owner string, now time.Time, lease time.Duration) (*model.Task, error) {
	// Runners poll: look without the write lock first, so that an idle
	// poll does not hold up writers.
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM tasks WHERE `+claimable+`)`, unix(now)).Scan(&n)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim task: %w", err)
	}
	if n == 0 {
		return nil, fmt.Errorf("sqlite: claim task: %w", store.ErrNotFound)
	}
	var out *model.Task
	err = s.write(ctx, func(tx *sql.Tx) error {
		t, err := scanTask(tx.QueryRowContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE `+claimable+`
			ORDER BY created, seq LIMIT 1`, unix(now)))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		t.State = model.TaskRunning
		t.Owner = owner
		t.LeaseUntil = fromUnix(unix(now.Add(lease)))
		t.Attempts++
		t.Updated = fromUnix(unix(s.now()))
		_, err = tx.ExecContext(ctx, `UPDATE tasks SET state = ?, owner = ?, lease_until = ?, attempts = ?, updated = ?
			WHERE id = ?`, string(t.State), owner, unix(t.LeaseUntil), t.Attempts, unix(t.Updated), t.ID)
		out = t
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim task: %w", err)
	}
	return out, nil
}

// updateLeased runs an UPDATE of task id that must match the running task
// leased by owner (the query's last two parameters); ErrLeaseLost if none.
func (s *Store) updateLeased(ctx context.Context, op, id, query string, args ...any) error {
	res, err := s.db.ExecContext(ctx, query+` WHERE id = ? AND owner = ? AND state = 'running'`, args...)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = store.ErrLeaseLost
		}
	}
	if err != nil {
		return fmt.Errorf("sqlite: %s task %s: %w", op, id, err)
	}
	return nil
}

// RenewLease implements store.Tasks.
func (s *Store) RenewLease(ctx context.Context, id, owner string, until time.Time) error {
	return s.updateLeased(ctx, "renew lease of", id, `UPDATE tasks SET lease_until = ?, updated = ?`,
		unix(until), unix(s.now()), id, owner)
}

// AdvanceTask implements store.Tasks.
func (s *Store) AdvanceTask(ctx context.Context, id, owner string, step int, stepName string, payload []byte) error {
	if payload == nil {
		return s.updateLeased(ctx, "advance", id, `UPDATE tasks SET step = ?, step_name = ?, updated = ?`,
			step, stepName, unix(s.now()), id, owner)
	}
	return s.updateLeased(ctx, "advance", id, `UPDATE tasks SET step = ?, step_name = ?, payload = ?, updated = ?`,
		step, stepName, payload, unix(s.now()), id, owner)
}

// FinishTask implements store.Tasks.
func (s *Store) FinishTask(ctx context.Context, id, owner string, state model.TaskState, errText string) error {
	if state != model.TaskDone && state != model.TaskFailed {
		return fmt.Errorf("sqlite: finish task %s: final state %q is not done or failed", id, state)
	}
	return s.updateLeased(ctx, "finish", id,
		`UPDATE tasks SET state = ?, error = ?, payload = NULL, owner = '', lease_until = 0, updated = ?`,
		string(state), errText, unix(s.now()), id, owner)
}

// ReleaseTask implements store.Tasks.
func (s *Store) ReleaseTask(ctx context.Context, id, owner string) error {
	return s.updateLeased(ctx, "release", id,
		`UPDATE tasks SET state = 'pending', owner = '', lease_until = 0, updated = ?`,
		unix(s.now()), id, owner)
}

// ReleaseLeases implements store.Tasks.
func (s *Store) ReleaseLeases(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `UPDATE tasks SET state = 'pending', owner = '', lease_until = 0, updated = ?
		WHERE state = 'running'`, unix(s.now()))
	if err != nil {
		return fmt.Errorf("sqlite: release leases: %w", err)
	}
	return nil
}

// GetTask implements store.Tasks.
func (s *Store) GetTask(ctx context.Context, id string) (*model.Task, error) {
	t, err := scanTask(s.db.QueryRowContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get task %s: %w", id, err)
	}
	return t, nil
}

// ActiveTask implements store.Tasks.
func (s *Store) ActiveTask(ctx context.Context, instanceID string) (*model.Task, error) {
	t, err := scanTask(s.db.QueryRowContext(ctx, `SELECT `+taskCols+` FROM tasks
		WHERE instance_id = ? AND state IN ('pending', 'running') ORDER BY created, seq LIMIT 1`, instanceID))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: active task of instance %s: %w", instanceID, err)
	}
	return t, nil
}

var _ store.TaskCounter = (*Store)(nil)

// CountTasks implements store.TaskCounter.
func (s *Store) CountTasks(ctx context.Context) (pending, running int, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0)
		FROM tasks WHERE state IN ('pending', 'running')`).Scan(&pending, &running)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: count tasks: %w", err)
	}
	return pending, running, nil
}

var _ store.TaskCopy = (*Store)(nil)

// AllTasks implements store.TaskCopy.
func (s *Store) AllTasks(ctx context.Context) ([]*model.Task, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+taskCols+` FROM tasks ORDER BY created, seq`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: all tasks: %w", err)
	}
	defer rows.Close()
	var out []*model.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: all tasks: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: all tasks: %w", err)
	}
	return out, nil
}

// InsertTask implements store.TaskCopy.
func (s *Store) InsertTask(ctx context.Context, t *model.Task) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return insertTask(ctx, tx, t, s.now())
	})
	if err != nil {
		return fmt.Errorf("sqlite: insert task %s: %w", t.ID, err)
	}
	return nil
}
