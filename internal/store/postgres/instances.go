package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/sqlrow"
)

const instanceCols = `id, tenant_id, name, status, deleting, flavor_id, volume_size,
	datastore, datastore_version, datastore_version_id, address, port, admin_secret,
	fault_message, fault_details, fault_created, created, updated, configuration_id,
	replica_of, replication_secret, ha_id, logs, allowed_cidrs`

func scanInstance(row pgx.Row) (*model.Instance, error) {
	var (
		inst                           model.Instance
		address, faultMsg, faultDetail *string
		faultCreated, created, updated *time.Time
		logs, cidrs                    string
	)
	err := row.Scan(&inst.ID, &inst.TenantID, &inst.Name, &inst.Status, &inst.Deleting, &inst.FlavorID,
		&inst.VolumeSize, &inst.Datastore, &inst.DatastoreVersion, &inst.DatastoreVersionID, &address,
		&inst.Port, &inst.AdminSecret, &faultMsg, &faultDetail, &faultCreated, &created, &updated, &inst.ConfigurationID,
		&inst.ReplicaOf, &inst.ReplicationSecret, &inst.HAID, &logs, &cidrs)
	if err != nil {
		return nil, err
	}
	if address != nil {
		inst.Address = *address
	}
	if faultMsg != nil {
		inst.Fault = &model.Fault{Message: *faultMsg, Created: fromTS(faultCreated)}
		if faultDetail != nil {
			inst.Fault.Details = *faultDetail
		}
	}
	inst.Logs = model.SplitLogs(logs)
	if inst.AllowedCIDRs, err = model.SplitCIDRs(cidrs); err != nil {
		return nil, err
	}
	inst.Created = fromTS(created)
	inst.Updated = fromTS(updated)
	return &inst, nil
}

// instanceArgs returns inst's column values in instanceCols order.
func instanceArgs(inst *model.Instance) []any {
	var faultMsg, faultDetails, faultCreated any
	if f := inst.Fault; f != nil {
		faultMsg, faultDetails, faultCreated = f.Message, f.Details, ts(f.Created)
	}
	return []any{inst.ID, inst.TenantID, inst.Name, string(inst.Status), inst.Deleting, inst.FlavorID,
		inst.VolumeSize, inst.Datastore, inst.DatastoreVersion, inst.DatastoreVersionID,
		nullIfEmpty(inst.Address), inst.Port, inst.AdminSecret, faultMsg, faultDetails, faultCreated,
		ts(inst.Created), ts(inst.Updated), inst.ConfigurationID, inst.ReplicaOf, inst.ReplicationSecret, inst.HAID, model.JoinLogs(inst.Logs),
		model.JoinCIDRs(inst.AllowedCIDRs)}
}

// getInstance reads one instance; tenantID "" matches any tenant. With lock
// it locks the row (SELECT ... FOR UPDATE) until the transaction ends.
func getInstance(ctx context.Context, q queryRower, tenantID, id string, lock bool) (*model.Instance, error) {
	query := `SELECT ` + instanceCols + ` FROM instances WHERE id = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	inst, err := scanInstance(q.QueryRow(ctx, query, id))
	if err != nil {
		return nil, noRows(err)
	}
	if tenantID != "" && inst.TenantID != tenantID {
		return nil, store.ErrNotFound
	}
	return inst, nil
}

// hasUnfinishedTask reports whether instance id has a pending or running task.
func hasUnfinishedTask(ctx context.Context, q queryRower, id string) (bool, error) {
	var busy bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tasks
		WHERE instance_id = $1 AND state IN ('pending', 'running'))`, id).Scan(&busy)
	return busy, err
}

// CreateInstance implements store.Instances. Zero Created/Updated times of
// inst and task are set to now, and an empty task State to pending.
func (s *Store) CreateInstance(ctx context.Context, inst *model.Instance, task *model.Task, q *store.Quota) error {
	now := s.now()
	sqlrow.DefaultTimes(&inst.Created, &inst.Updated, now)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := admit(ctx, tx, q, inst.TenantID, model.Usage(inst)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO instances (`+instanceCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`,
			instanceArgs(inst)...)
		if isUnique(err) {
			return store.ErrExists
		}
		if err != nil {
			return err
		}
		if task != nil {
			if task.InstanceID == "" {
				task.InstanceID = inst.ID
			}
			return insertTask(ctx, tx, task, now)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: create instance %s: %w", inst.ID, err)
	}
	return nil
}

// AdoptInstance implements store.Instances. Concurrent adoptions take
// different instances: the one chosen is locked, and those locked by
// another transaction are skipped.
func (s *Store) AdoptInstance(ctx context.Context, from string, inst *model.Instance, task *model.Task, q *store.Quota) error {
	now := s.now()
	sqlrow.DefaultTimes(&inst.Created, &inst.Updated, now)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := admit(ctx, tx, q, inst.TenantID, model.Usage(inst)); err != nil {
			return err
		}
		var id string
		err := tx.QueryRow(ctx, `SELECT id FROM instances i
			WHERE tenant_id = $1 AND status = $2 AND NOT deleting AND address IS NOT NULL
			AND datastore_version_id = $3 AND flavor_id = $4 AND volume_size = $5
			AND configuration_id = '' AND replica_of = '' AND ha_id = '' AND allowed_cidrs = $6
			AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.instance_id = i.id AND t.state IN ('pending', 'running'))
			ORDER BY created, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
			from, string(model.StatusActive), inst.DatastoreVersionID, inst.FlavorID, inst.VolumeSize,
			model.JoinCIDRs(nil)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE instances SET tenant_id = $1, name = $2, status = $3,
			fault_message = NULL, fault_details = NULL, fault_created = NULL, created = $4, updated = $5 WHERE id = $6`,
			inst.TenantID, inst.Name, string(inst.Status), ts(inst.Created), ts(inst.Updated), id); err != nil {
			return err
		}
		got, err := getInstance(ctx, tx, "", id, false)
		if err != nil {
			return err
		}
		*inst = *got
		if task != nil {
			task.InstanceID = id
			return insertTask(ctx, tx, task, now)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: adopt an instance of %s: %w", from, err)
	}
	return nil
}

// GetInstance implements store.Instances.
func (s *Store) GetInstance(ctx context.Context, tenantID, id string) (*model.Instance, error) {
	inst, err := getInstance(ctx, s.pool, tenantID, id, false)
	if err != nil {
		return nil, fmt.Errorf("postgres: get instance %s: %w", id, err)
	}
	return inst, nil
}

// ListInstances implements store.Instances. A Limit <= 0 means no limit.
func (s *Store) ListInstances(ctx context.Context, tenantID string, page store.Page) ([]*model.Instance, error) {
	rows, err := s.pageInstances(ctx, instanceCols, tenantID, page)
	if err != nil {
		return nil, fmt.Errorf("postgres: list instances: %w", err)
	}
	defer rows.Close()
	var out []*model.Instance
	for rows.Next() {
		inst, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list instances: %w", err)
		}
		out = append(out, inst)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list instances: %w", err)
	}
	return out, nil
}

// pageInstances queries columns cols of a page of instances (all tenants'
// if tenantID is ""), in id order. A Limit <= 0 means no limit.
func (s *Store) pageInstances(ctx context.Context, cols, tenantID string, page store.Page) (pgx.Rows, error) {
	var limit any // NULL: LIMIT ALL
	if page.Limit > 0 {
		limit = page.Limit
	}
	skip := ""
	if page.SkipReplicas {
		skip = ` AND replica_of = ''`
	}
	if tenantID == "" {
		return s.pool.Query(ctx, `SELECT `+cols+` FROM instances
			WHERE id > $1`+skip+` ORDER BY id LIMIT $2`, page.Marker, limit)
	}
	return s.pool.Query(ctx, `SELECT `+cols+` FROM instances
		WHERE tenant_id = $1 AND id > $2`+skip+` ORDER BY id LIMIT $3`, tenantID, page.Marker, limit)
}

// summaryCols are the columns of the summary list view, all of them in the
// index instances_tenant_summary (migration 0007), so that a
// tenant's page can be an index-only scan.
const summaryCols = `id, tenant_id, name, status, flavor_id, volume_size, datastore, datastore_version, address`

// querySummaries reads a page of summaries from the database. A Limit <= 0
// means no limit.
func (s *Store) querySummaries(ctx context.Context, tenantID string, page store.Page) ([]*model.Instance, error) {
	rows, err := s.pageInstances(ctx, summaryCols, tenantID, page)
	if err != nil {
		return nil, fmt.Errorf("postgres: list instance summaries: %w", err)
	}
	defer rows.Close()
	out := make([]*model.Instance, 0, max(page.Limit, 0))
	// Rows are allocated in blocks (a whole page at once) rather than one
	// by one; out points into the blocks.
	var block []model.Instance
	for rows.Next() {
		if len(block) == cap(block) {
			n := page.Limit
			if n <= 0 {
				n = 64
			}
			block = make([]model.Instance, 0, n)
		}
		block = append(block, model.Instance{})
		inst := &block[len(block)-1]
		var address *string
		if err := rows.Scan(&inst.ID, &inst.TenantID, &inst.Name, &inst.Status, &inst.FlavorID, &inst.VolumeSize,
			&inst.Datastore, &inst.DatastoreVersion, &address); err != nil {
			return nil, fmt.Errorf("postgres: list instance summaries: %w", err)
		}
		if address != nil {
			inst.Address = *address
		}
		out = append(out, inst)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list instance summaries: %w", err)
	}
	return out, nil
}

// CountInstances implements store.Instances; tenantID "" counts every
// tenant's instances.
func (s *Store) CountInstances(ctx context.Context, tenantID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM instances WHERE $1 = '' OR tenant_id = $1`, tenantID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: count instances: %w", err)
	}
	return n, nil
}

// putInstance writes every column of inst but its id.
func putInstance(ctx context.Context, tx pgx.Tx, inst *model.Instance) error {
	args := instanceArgs(inst)
	args = append(args[1:], inst.ID)
	_, err := tx.Exec(ctx, `UPDATE instances SET tenant_id = $1, name = $2, status = $3, deleting = $4,
		flavor_id = $5, volume_size = $6, datastore = $7, datastore_version = $8, datastore_version_id = $9,
		address = $10, port = $11, admin_secret = $12, fault_message = $13, fault_details = $14,
		fault_created = $15, created = $16, updated = $17, configuration_id = $18, replica_of = $19,
		replication_secret = $20, ha_id = $21, logs = $22, allowed_cidrs = $23 WHERE id = $24`, args...)
	if isUnique(err) {
		return store.ErrExists
	}
	return err
}

// UpdateInstance implements store.Instances. fn runs inside the transaction
// with the instance row locked: it must be quick and must not call the store.
func (s *Store) UpdateInstance(ctx context.Context, id string, fn func(*model.Instance) error) (*model.Instance, error) {
	var out *model.Instance
	err := s.tx(ctx, func(tx pgx.Tx) error {
		inst, err := getInstance(ctx, tx, "", id, true)
		if err != nil {
			return err
		}
		if err := fn(inst); err != nil {
			return err
		}
		inst.ID = id
		inst.Updated = s.now()
		out = inst
		return putInstance(ctx, tx, inst)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: update instance %s: %w", id, err)
	}
	return out, nil
}

// StartAction implements store.Instances. Zero Created/Updated times of task
// are set to the store's clock, an empty State to pending and an empty
// InstanceID to id.
//
// The instance row is locked before it is read, so concurrent gates on one
// instance, in this process or another replica, run one after the other and
// the later one sees the earlier one's status, task and lease. Should a task
// be inserted for the instance by other means meanwhile, the
// tasks_unfinished index refuses the second task and the gate reports a
// *store.StateError.
func (s *Store) StartAction(ctx context.Context, tenantID, id string, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task, now time.Time) (*model.Instance, error) {
	return s.startAction(ctx, tenantID, id, 0, allowed, newStatus, task, now, nil)
}

// StartVolumeResize implements store.Instances.
func (s *Store) StartVolumeResize(ctx context.Context, tenantID, id string, size int, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task, now time.Time, q *store.Quota) (*model.Instance, error) {
	if size < 1 {
		return nil, fmt.Errorf("postgres: start volume resize of instance %s: size %d", id, size)
	}
	return s.startAction(ctx, tenantID, id, size, allowed, newStatus, task, now, q)
}

// startAction is StartAction, and StartVolumeResize with a size > 0.
func (s *Store) startAction(ctx context.Context, tenantID, id string, size int, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task, now time.Time, q *store.Quota) (*model.Instance, error) {
	if task == nil {
		return nil, fmt.Errorf("postgres: start action on instance %s: nil task", id)
	}
	var out *model.Instance
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if size > 0 && q != nil {
			// The quota lock comes before the row lock (lockQuota).
			project := tenantID
			if project == "" {
				inst, err := getInstance(ctx, tx, "", id, false)
				if err != nil {
					return err
				}
				project = inst.TenantID
			}
			if err := lockQuota(ctx, tx, q, project); err != nil {
				return err
			}
		}
		inst, err := gateInline(ctx, tx, tenantID, id, allowed, "", now)
		if err != nil {
			return err
		}
		if size > 0 {
			if err := checkQuota(ctx, tx, q, inst.TenantID, model.QuotaUsage{model.QuotaVolumes: size - inst.VolumeSize}); err != nil {
				return err
			}
			inst.VolumeSize = size
		}
		// A lease that ended is of a holder that died: it goes now.
		if _, err := tx.Exec(ctx, `DELETE FROM inline_leases WHERE instance_id = $1`, id); err != nil {
			return err
		}
		refused := &store.StateError{InstanceID: id, Status: inst.Status}
		at := s.now()
		inst.Status = newStatus
		if task.Kind == model.TaskDelete {
			inst.Deleting = true
		}
		inst.Updated = at
		if _, err := tx.Exec(ctx, `UPDATE instances SET status = $1, deleting = $2, volume_size = $3, updated = $4 WHERE id = $5`,
			string(inst.Status), inst.Deleting, inst.VolumeSize, ts(at), id); err != nil {
			return err
		}
		task.InstanceID = id
		out = inst
		err = insertTask(ctx, tx, task, at)
		if constraint(err) == "tasks_unfinished" {
			return refused
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: start action on instance %s: %w", id, err)
	}
	return out, nil
}

// SetObservedStatus implements store.Instances.
func (s *Store) SetObservedStatus(ctx context.Context, id string, from []model.InstanceStatus, status model.InstanceStatus) (bool, error) {
	changed := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		inst, err := getInstance(ctx, tx, "", id, true)
		if err != nil {
			return err
		}
		if !slices.Contains(from, inst.Status) {
			return nil
		}
		busy, err := hasUnfinishedTask(ctx, tx, id)
		if err != nil || busy {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE instances SET status = $1, updated = $2 WHERE id = $3`,
			string(status), ts(s.now()), id); err != nil {
			return err
		}
		changed = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("postgres: set observed status of instance %s: %w", id, err)
	}
	return changed, nil
}

// AssignAddress implements store.Instances. Assignments serialise on an
// advisory lock, so two replicas never pick the same free address.
func (s *Store) AssignAddress(ctx context.Context, id string, candidates []string) (string, error) {
	var addr string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := xactLock(ctx, tx, lockAddresses); err != nil {
			return err
		}
		inst, err := getInstance(ctx, tx, "", id, true)
		if err != nil {
			return err
		}
		if inst.Address != "" {
			addr = inst.Address
			return nil
		}
		for _, c := range candidates {
			if c == "" {
				continue
			}
			var used bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM instances WHERE address = $1)`, c).Scan(&used); err != nil {
				return err
			}
			if used {
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE instances SET address = $1, updated = $2 WHERE id = $3`,
				c, ts(s.now()), id); err != nil {
				return err
			}
			addr = c
			return nil
		}
		return store.ErrNoAddress
	})
	if err != nil {
		return "", fmt.Errorf("postgres: assign address to instance %s: %w", id, err)
	}
	return addr, nil
}

// DeleteInstance implements store.Instances. Unfinished tasks are kept: the
// delete task that calls it finishes afterwards.
func (s *Store) DeleteInstance(ctx context.Context, id string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM instances WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		_, err = tx.Exec(ctx, `DELETE FROM tasks WHERE instance_id = $1 AND state IN ('done', 'failed')`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: delete instance %s: %w", id, err)
	}
	return nil
}

// CreateReplica implements store.Instances.
func (s *Store) CreateReplica(ctx context.Context, inst *model.Instance, task *model.Task, allowed []model.InstanceStatus, max int, secret []byte, q *store.Quota) error {
	now := s.now()
	sqlrow.DefaultTimes(&inst.Created, &inst.Updated, now)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockQuota(ctx, tx, q, inst.TenantID); err != nil {
			return err
		}
		src, err := getInstance(ctx, tx, "", inst.ReplicaOf, true)
		if err != nil {
			return err
		}
		err = sqlrow.CheckReplicaSource(src, inst, allowed, max,
			func() (bool, error) { return hasUnfinishedTask(ctx, tx, src.ID) },
			func() (int, error) {
				var n int
				err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM instances WHERE replica_of = $1 AND replica_of <> ''`, src.ID).Scan(&n)
				return n, err
			})
		if err != nil {
			return err
		}
		if err := requireProject(ctx, tx, q, inst.TenantID); err != nil {
			return err
		}
		if err := checkQuota(ctx, tx, q, inst.TenantID, model.Usage(inst)); err != nil {
			return err
		}
		if len(src.ReplicationSecret) == 0 {
			if _, err := tx.Exec(ctx, `UPDATE instances SET replication_secret = $1 WHERE id = $2`, secret, src.ID); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO instances (`+instanceCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`,
			instanceArgs(inst)...)
		if isUnique(err) {
			return store.ErrExists
		}
		if err != nil {
			return err
		}
		if task.InstanceID == "" {
			task.InstanceID = inst.ID
		}
		return insertTask(ctx, tx, task, now)
	})
	if err != nil {
		return fmt.Errorf("postgres: create replica %s of %s: %w", inst.ID, inst.ReplicaOf, err)
	}
	return nil
}

// ListReplicas implements store.Instances. The index instances_replica_of
// is partial (on non-empty replica_of): the second term lets a generic plan
// use it rather than scan the table.
func (s *Store) ListReplicas(ctx context.Context, sourceID string) ([]*model.Instance, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+instanceCols+` FROM instances WHERE replica_of = $1 AND replica_of <> '' ORDER BY id`, sourceID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list replicas of %s: %w", sourceID, err)
	}
	defer rows.Close()
	var out []*model.Instance
	for rows.Next() {
		inst, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list replicas of %s: %w", sourceID, err)
		}
		out = append(out, inst)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list replicas of %s: %w", sourceID, err)
	}
	return out, nil
}

// GetInstanceAndReplicas implements store.InstanceAndReplicasGetter: the
// instance and its replicas in one round trip to the server (the two
// statements are sent as one pipelined batch).
func (s *Store) GetInstanceAndReplicas(ctx context.Context, tenantID, id string) (*model.Instance, []*model.Instance, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT `+instanceCols+` FROM instances WHERE id = $1`, id)
	b.Queue(`SELECT `+instanceCols+` FROM instances WHERE replica_of = $1 AND replica_of <> '' ORDER BY id`, id)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	inst, err := scanInstance(br.QueryRow())
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: get instance %s: %w", id, noRows(err))
	}
	if tenantID != "" && inst.TenantID != tenantID {
		return nil, nil, fmt.Errorf("postgres: get instance %s: %w", id, store.ErrNotFound)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: list replicas of %s: %w", id, err)
	}
	defer rows.Close()
	var replicas []*model.Instance
	for rows.Next() {
		r, err := scanInstance(rows)
		if err != nil {
			return nil, nil, fmt.Errorf("postgres: list replicas of %s: %w", id, err)
		}
		replicas = append(replicas, r)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("postgres: list replicas of %s: %w", id, err)
	}
	return inst, replicas, nil
}

// StartGroupAction implements store.Instances. Rows are locked in id
// order, so that two group actions never deadlock.
func (s *Store) StartGroupAction(ctx context.Context, tenantID string, ids []string, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task, now time.Time) error {
	sorted := slices.Sorted(slices.Values(ids))
	err := s.tx(ctx, func(tx pgx.Tx) error {
		for _, id := range sorted {
			if _, err := gateInline(ctx, tx, tenantID, id, allowed, "", now); err != nil {
				return err
			}
		}
		at := s.now()
		for _, id := range sorted {
			if _, err := tx.Exec(ctx, `DELETE FROM inline_leases WHERE instance_id = $1`, id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE instances SET status = $1, updated = $2 WHERE id = $3`,
				string(newStatus), ts(at), id); err != nil {
				return err
			}
		}
		err := insertTask(ctx, tx, task, at)
		if constraint(err) == "tasks_unfinished" {
			return &store.StateError{InstanceID: task.InstanceID, Status: newStatus}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: start action on instances %v: %w", ids, err)
	}
	return nil
}
