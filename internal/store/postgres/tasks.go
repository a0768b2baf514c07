package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

const taskCols = `id, instance_id, kind, state, step, step_name, owner, lease_until, attempts, payload, error, created, updated`

func scanTask(row pgx.Row) (*model.Task, error) {
	var (
		t                       model.Task
		lease, created, updated *time.Time
	)
	if err := row.Scan(&t.ID, &t.InstanceID, &t.Kind, &t.State, &t.Step, &t.StepName, &t.Owner, &lease, &t.Attempts,
		&t.Payload, &t.Error, &created, &updated); err != nil {
		return nil, err
	}
	t.LeaseUntil = fromTS(lease)
	t.Created = fromTS(created)
	t.Updated = fromTS(updated)
	return &t, nil
}

// insertTask inserts t, defaulting its State to pending and zero times to now.
func insertTask(ctx context.Context, tx pgx.Tx, t *model.Task, now time.Time) error {
	if t.State == "" {
		t.State = model.TaskPending
	}
	if t.Created.IsZero() {
		t.Created = now
	}
	if t.Updated.IsZero() {
		t.Updated = t.Created
	}
	_, err := tx.Exec(ctx, `INSERT INTO tasks (`+taskCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		t.ID, t.InstanceID, string(t.Kind), string(t.State), t.Step, t.StepName, t.Owner, ts(t.LeaseUntil), t.Attempts,
		t.Payload, t.Error, ts(t.Created), ts(t.Updated))
	if isUnique(err) {
		// A duplicate task id, or a second unfinished task for the instance.
		return fmt.Errorf("task %s: %w: %w", t.ID, store.ErrExists, err)
	}
	return err
}

// claimable selects the tasks ClaimTask may take at time $1.
const claimable = `(state = 'pending' OR (state = 'running' AND lease_until < $1))`

// ClaimTask implements store.Tasks.
//
// The task is picked with SELECT ... FOR UPDATE SKIP LOCKED: a task being
// claimed by another transaction (in any replica) is skipped, not waited
// for, and no two claimers ever get the same task.
func (s *Store) ClaimTask(ctx context.Context, owner string, now time.Time, lease time.Duration) (*model.Task, error) {
	until := ts(now.Add(lease))
	// A task claimed and committed by someone else between our snapshot
	// and our lock is re-checked by PostgreSQL and dropped, which can leave
	// the pick empty although other tasks wait: try again a few times.
	for range 5 {
		t, err := scanTask(s.pool.QueryRow(ctx, `UPDATE tasks
			SET state = 'running', owner = $2, lease_until = $3, attempts = attempts + 1, updated = $4
			WHERE seq = (SELECT seq FROM tasks WHERE `+claimable+`
				ORDER BY created, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
			RETURNING `+taskCols, ts(now), owner, until, ts(s.now())))
		if err == nil {
			return t, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("postgres: claim task: %w", err)
		}
		var waiting bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tasks WHERE `+claimable+`)`, ts(now)).
			Scan(&waiting); err != nil {
			return nil, fmt.Errorf("postgres: claim task: %w", err)
		}
		if !waiting {
			break
		}
	}
	return nil, fmt.Errorf("postgres: claim task: %w", store.ErrNotFound)
}

// updateLeased runs an UPDATE of task id that must match the running task
// leased by owner; the query's parameters are args, then id and owner.
func (s *Store) updateLeased(ctx context.Context, op, id, owner, query string, args ...any) error {
	n := len(args)
	args = append(args, id, owner)
	tag, err := s.pool.Exec(ctx, fmt.Sprintf(`%s WHERE id = $%d AND owner = $%d AND state = 'running'`, query, n+1, n+2), args...)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrLeaseLost
	}
	if err != nil {
		return fmt.Errorf("postgres: %s task %s: %w", op, id, err)
	}
	return nil
}

// RenewLease implements store.Tasks.
func (s *Store) RenewLease(ctx context.Context, id, owner string, until time.Time) error {
	return s.updateLeased(ctx, "renew lease of", id, owner, `UPDATE tasks SET lease_until = $1, updated = $2`,
		ts(until), ts(s.now()))
}

// AdvanceTask implements store.Tasks.
func (s *Store) AdvanceTask(ctx context.Context, id, owner string, step int, stepName string, payload []byte) error {
	if payload == nil {
		return s.updateLeased(ctx, "advance", id, owner, `UPDATE tasks SET step = $1, step_name = $2, updated = $3`,
			step, stepName, ts(s.now()))
	}
	return s.updateLeased(ctx, "advance", id, owner,
		`UPDATE tasks SET step = $1, step_name = $2, payload = $3, updated = $4`,
		step, stepName, payload, ts(s.now()))
}

// FinishTask implements store.Tasks.
func (s *Store) FinishTask(ctx context.Context, id, owner string, state model.TaskState, errText string) error {
	if state != model.TaskDone && state != model.TaskFailed {
		return fmt.Errorf("postgres: finish task %s: final state %q is not done or failed", id, state)
	}
	return s.updateLeased(ctx, "finish", id, owner,
		`UPDATE tasks SET state = $1, error = $2, payload = NULL, owner = '', lease_until = NULL, updated = $3`,
		string(state), errText, ts(s.now()))
}

// ReleaseTask implements store.Tasks.
func (s *Store) ReleaseTask(ctx context.Context, id, owner string) error {
	return s.updateLeased(ctx, "release", id, owner,
		`UPDATE tasks SET state = 'pending', owner = '', lease_until = NULL, updated = $1`, ts(s.now()))
}

// ReleaseLeases implements store.Tasks. With several replicas on one
// database it must not be called at start-up: other replicas' leases are
// live, and expire by themselves if their holder died.
func (s *Store) ReleaseLeases(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `UPDATE tasks SET state = 'pending', owner = '', lease_until = NULL, updated = $1
		WHERE state = 'running'`, ts(s.now()))
	if err != nil {
		return fmt.Errorf("postgres: release leases: %w", err)
	}
	return nil
}

// GetTask implements store.Tasks.
func (s *Store) GetTask(ctx context.Context, id string) (*model.Task, error) {
	t, err := scanTask(s.pool.QueryRow(ctx, `SELECT `+taskCols+` FROM tasks WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("postgres: get task %s: %w", id, noRows(err))
	}
	return t, nil
}

// ActiveTask implements store.Tasks.
func (s *Store) ActiveTask(ctx context.Context, instanceID string) (*model.Task, error) {
	t, err := scanTask(s.pool.QueryRow(ctx, `SELECT `+taskCols+` FROM tasks
		WHERE instance_id = $1 AND state IN ('pending', 'running') ORDER BY created, seq LIMIT 1`, instanceID))
	if err != nil {
		return nil, fmt.Errorf("postgres: active task of instance %s: %w", instanceID, noRows(err))
	}
	return t, nil
}

var _ store.TaskCounter = (*Store)(nil)

// CountTasks implements store.TaskCounter.
func (s *Store) CountTasks(ctx context.Context) (pending, running int, err error) {
	err = s.pool.QueryRow(ctx, `SELECT
		COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0)
		FROM tasks WHERE state IN ('pending', 'running')`).Scan(&pending, &running)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: count tasks: %w", err)
	}
	return pending, running, nil
}

var _ store.TaskCopy = (*Store)(nil)

// AllTasks implements store.TaskCopy.
func (s *Store) AllTasks(ctx context.Context) ([]*model.Task, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+taskCols+` FROM tasks ORDER BY created, seq`)
	if err != nil {
		return nil, fmt.Errorf("postgres: all tasks: %w", err)
	}
	defer rows.Close()
	var out []*model.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: all tasks: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: all tasks: %w", err)
	}
	return out, nil
}

// InsertTask implements store.TaskCopy.
func (s *Store) InsertTask(ctx context.Context, t *model.Task) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		return insertTask(ctx, tx, t, s.now())
	})
	if err != nil {
		return fmt.Errorf("postgres: insert task %s: %w", t.ID, err)
	}
	return nil
}
