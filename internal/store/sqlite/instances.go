package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/sqlrow"
)

const instanceCols = `id, tenant_id, name, status, deleting, flavor_id, volume_size,
	datastore, datastore_version, datastore_version_id, address, port, admin_secret,
	fault_message, fault_details, fault_created, created, updated, configuration_id,
	replica_of, replication_secret, ha_id, logs, allowed_cidrs`

type scanner interface {
	Scan(dest ...any) error
}

func scanInstance(sc scanner) (*model.Instance, error) {
	var (
		inst             model.Instance
		address          sql.NullString
		faultMsg         sql.NullString
		faultDetails     sql.NullString
		faultCreated     sql.NullInt64
		created, updated int64
		logs, cidrs      string
	)
	err := sc.Scan(&inst.ID, &inst.TenantID, &inst.Name, &inst.Status, &inst.Deleting, &inst.FlavorID,
		&inst.VolumeSize, &inst.Datastore, &inst.DatastoreVersion, &inst.DatastoreVersionID, &address,
		&inst.Port, &inst.AdminSecret, &faultMsg, &faultDetails, &faultCreated, &created, &updated, &inst.ConfigurationID,
		&inst.ReplicaOf, &inst.ReplicationSecret, &inst.HAID, &logs, &cidrs)
	if err != nil {
		return nil, err
	}
	inst.Address = address.String
	if faultMsg.Valid {
		inst.Fault = &model.Fault{
			Message: faultMsg.String,
			Details: faultDetails.String,
			Created: fromUnix(faultCreated.Int64),
		}
	}
	inst.Logs = model.SplitLogs(logs)
	if inst.AllowedCIDRs, err = model.SplitCIDRs(cidrs); err != nil {
		return nil, err
	}
	inst.Created = fromUnix(created)
	inst.Updated = fromUnix(updated)
	return &inst, nil
}

// instanceArgs returns inst's column values in instanceCols order.
func instanceArgs(inst *model.Instance) []any {
	var faultMsg, faultDetails, faultCreated any
	if f := inst.Fault; f != nil {
		faultMsg, faultDetails, faultCreated = f.Message, f.Details, unix(f.Created)
	}
	return []any{inst.ID, inst.TenantID, inst.Name, string(inst.Status), inst.Deleting, inst.FlavorID,
		inst.VolumeSize, inst.Datastore, inst.DatastoreVersion, inst.DatastoreVersionID,
		nullIfEmpty(inst.Address), inst.Port, inst.AdminSecret, faultMsg, faultDetails, faultCreated,
		unix(inst.Created), unix(inst.Updated), inst.ConfigurationID, inst.ReplicaOf, inst.ReplicationSecret, inst.HAID, model.JoinLogs(inst.Logs),
		model.JoinCIDRs(inst.AllowedCIDRs)}
}

// getInstance reads one instance; tenantID "" matches any tenant.
func getInstance(ctx context.Context, q querier, tenantID, id string) (*model.Instance, error) {
	inst, err := scanInstance(q.QueryRowContext(ctx, `SELECT `+instanceCols+` FROM instances WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && tenantID != "" && inst.TenantID != tenantID) {
		return nil, store.ErrNotFound
	}
	return inst, err
}

// hasUnfinishedTask reports whether instance id has a pending or running task.
func hasUnfinishedTask(ctx context.Context, q querier, id string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM tasks WHERE instance_id = ? AND state IN ('pending', 'running')`, id).Scan(&n)
	return n > 0, err
}

// CreateInstance implements store.Instances. Zero Created/Updated times of
// inst and task are set to now, and an empty task State to pending.
func (s *Store) CreateInstance(ctx context.Context, inst *model.Instance, task *model.Task, q *store.Quota) error {
	now := s.now()
	sqlrow.DefaultTimes(&inst.Created, &inst.Updated, now)
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := admit(ctx, tx, q, inst.TenantID, model.Usage(inst)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO instances (`+instanceCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, instanceArgs(inst)...)
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
		return fmt.Errorf("sqlite: create instance %s: %w", inst.ID, err)
	}
	return nil
}

// AdoptInstance implements store.Instances.
func (s *Store) AdoptInstance(ctx context.Context, from string, inst *model.Instance, task *model.Task, q *store.Quota) error {
	now := s.now()
	sqlrow.DefaultTimes(&inst.Created, &inst.Updated, now)
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := admit(ctx, tx, q, inst.TenantID, model.Usage(inst)); err != nil {
			return err
		}
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM instances i
			WHERE tenant_id = ? AND status = ? AND deleting = 0 AND address IS NOT NULL
			AND datastore_version_id = ? AND flavor_id = ? AND volume_size = ?
			AND configuration_id = '' AND replica_of = '' AND ha_id = '' AND allowed_cidrs = ?
			AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.instance_id = i.id AND t.state IN ('pending', 'running'))
			ORDER BY created, id LIMIT 1`,
			from, string(model.StatusActive), inst.DatastoreVersionID, inst.FlavorID, inst.VolumeSize,
			model.JoinCIDRs(nil)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE instances SET tenant_id = ?, name = ?, status = ?,
			fault_message = NULL, fault_details = NULL, fault_created = NULL, created = ?, updated = ? WHERE id = ?`,
			inst.TenantID, inst.Name, string(inst.Status), unix(inst.Created), unix(inst.Updated), id); err != nil {
			return err
		}
		got, err := getInstance(ctx, tx, "", id)
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
		return fmt.Errorf("sqlite: adopt an instance of %s: %w", from, err)
	}
	return nil
}

// GetInstance implements store.Instances.
func (s *Store) GetInstance(ctx context.Context, tenantID, id string) (*model.Instance, error) {
	inst, err := getInstance(ctx, s.ro, tenantID, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get instance %s: %w", id, err)
	}
	return inst, nil
}

// pageInstances queries columns cols of a page of instances (all tenants'
// if tenantID is ""), in id order. A Limit <= 0 means no limit.
func (s *Store) pageInstances(ctx context.Context, cols, tenantID string, page store.Page) (*sql.Rows, error) {
	limit := page.Limit
	if limit <= 0 {
		limit = -1
	}
	skip := ""
	if page.SkipReplicas {
		skip = ` AND replica_of = ''`
	}
	if tenantID == "" {
		return s.ro.QueryContext(ctx, `SELECT `+cols+` FROM instances
			WHERE id > ?`+skip+` ORDER BY id LIMIT ?`, page.Marker, limit)
	}
	return s.ro.QueryContext(ctx, `SELECT `+cols+` FROM instances
		WHERE tenant_id = ? AND id > ?`+skip+` ORDER BY id LIMIT ?`, tenantID, page.Marker, limit)
}

// ListInstances implements store.Instances. A Limit <= 0 means no limit.
func (s *Store) ListInstances(ctx context.Context, tenantID string, page store.Page) ([]*model.Instance, error) {
	rows, err := s.pageInstances(ctx, instanceCols, tenantID, page)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list instances: %w", err)
	}
	defer rows.Close()
	var out []*model.Instance
	for rows.Next() {
		inst, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list instances: %w", err)
		}
		out = append(out, inst)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list instances: %w", err)
	}
	return out, nil
}

// summaryCols are the columns of the summary list view, all of them in the
// index instances_tenant_summary (migration 0007), so that a tenant's page
// is read from the index alone.
var summaryCols = []string{"id", "tenant_id", "name", "status", "flavor_id", "volume_size",
	"datastore", "datastore_version", "coalesce(address, '')"}

// summaryRecord packs the summary columns of a row into one TEXT value: each
// column as its length in bytes, ':' and its text (see unpackSummary).
// Reading a column through the driver costs about three calls into SQLite,
// each taking the connection's mutex: reading one column per row instead
// of nine made a page of summaries about twice as fast.
var summaryRecord = func() string {
	var args []string
	for _, c := range summaryCols {
		args = append(args, "octet_length("+c+"), ':', "+c)
	}
	return "concat(" + strings.Join(args, ", ") + ")"
}()

// unpackSummary reads a summaryRecord. The strings of inst share rec's
// memory.
func unpackSummary(rec string, inst *model.Instance) error {
	var f [9]string
	for i := range f {
		colon := strings.IndexByte(rec, ':')
		if colon < 0 {
			return fmt.Errorf("summary record: column %d: no length", i)
		}
		n, err := strconv.Atoi(rec[:colon])
		if err != nil || n < 0 || n > len(rec)-colon-1 {
			return fmt.Errorf("summary record: column %d: bad length %q", i, rec[:colon])
		}
		f[i], rec = rec[colon+1:colon+1+n], rec[colon+1+n:]
	}
	if rec != "" {
		return fmt.Errorf("summary record: %d bytes after the last column", len(rec))
	}
	flavor, err := strconv.Atoi(f[4])
	if err != nil {
		return fmt.Errorf("summary record: flavor: %w", err)
	}
	size, err := strconv.Atoi(f[5])
	if err != nil {
		return fmt.Errorf("summary record: volume size: %w", err)
	}
	*inst = model.Instance{ID: f[0], TenantID: f[1], Name: f[2], Status: model.InstanceStatus(f[3]),
		FlavorID: flavor, VolumeSize: size, Datastore: f[6], DatastoreVersion: f[7], Address: f[8]}
	return nil
}

// querySummaries reads a page of summaries from SQLite. A Limit <= 0 means
// no limit.
func (s *Store) querySummaries(ctx context.Context, tenantID string, page store.Page) ([]*model.Instance, error) {
	rows, err := s.pageInstances(ctx, summaryRecord, tenantID, page)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list instance summaries: %w", err)
	}
	defer rows.Close()
	out := make([]*model.Instance, 0, max(page.Limit, 0))
	// Rows are allocated in blocks (a whole page at once) rather than one
	// by one; out points into the blocks.
	var block []model.Instance
	var rec string
	for rows.Next() {
		if err := rows.Scan(&rec); err != nil {
			return nil, fmt.Errorf("sqlite: list instance summaries: %w", err)
		}
		if len(block) == cap(block) {
			n := page.Limit
			if n <= 0 {
				n = 64
			}
			block = make([]model.Instance, 0, n)
		}
		block = append(block, model.Instance{})
		inst := &block[len(block)-1]
		if err := unpackSummary(rec, inst); err != nil {
			return nil, fmt.Errorf("sqlite: list instance summaries: %w", err)
		}
		out = append(out, inst)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list instance summaries: %w", err)
	}
	return out, nil
}

// CountInstances implements store.Instances; tenantID "" counts every
// tenant's instances.
func (s *Store) CountInstances(ctx context.Context, tenantID string) (int, error) {
	var n int
	var err error
	if tenantID == "" {
		err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM instances`).Scan(&n)
	} else {
		err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM instances WHERE tenant_id = ?`, tenantID).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: count instances: %w", err)
	}
	return n, nil
}

// putInstance writes every column of inst but its id.
func putInstance(ctx context.Context, tx *sql.Tx, inst *model.Instance) error {
	args := instanceArgs(inst)
	args = append(args[1:], inst.ID)
	_, err := tx.ExecContext(ctx, `UPDATE instances SET tenant_id = ?, name = ?, status = ?, deleting = ?,
		flavor_id = ?, volume_size = ?, datastore = ?, datastore_version = ?, datastore_version_id = ?,
		address = ?, port = ?, admin_secret = ?, fault_message = ?, fault_details = ?, fault_created = ?,
		created = ?, updated = ?, configuration_id = ?, replica_of = ?, replication_secret = ?, ha_id = ?, logs = ?, allowed_cidrs = ? WHERE id = ?`, args...)
	if isUnique(err) {
		return store.ErrExists
	}
	return err
}

// UpdateInstance implements store.Instances. fn runs inside the write
// transaction: it must be quick and must not call the store.
func (s *Store) UpdateInstance(ctx context.Context, id string, fn func(*model.Instance) error) (*model.Instance, error) {
	var out *model.Instance
	err := s.write(ctx, func(tx *sql.Tx) error {
		inst, err := getInstance(ctx, tx, "", id)
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
		return nil, fmt.Errorf("sqlite: update instance %s: %w", id, err)
	}
	return out, nil
}

// StartAction implements store.Instances. Zero Created/Updated times of task
// are set to the store's clock, an empty State to pending and an empty
// InstanceID to id.
func (s *Store) StartAction(ctx context.Context, tenantID, id string, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task, now time.Time) (*model.Instance, error) {
	return s.startAction(ctx, tenantID, id, 0, allowed, newStatus, task, now, nil)
}

// StartVolumeResize implements store.Instances.
func (s *Store) StartVolumeResize(ctx context.Context, tenantID, id string, size int, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task, now time.Time, q *store.Quota) (*model.Instance, error) {
	if size < 1 {
		return nil, fmt.Errorf("sqlite: start volume resize of instance %s: size %d", id, size)
	}
	return s.startAction(ctx, tenantID, id, size, allowed, newStatus, task, now, q)
}

// startAction is StartAction, and StartVolumeResize with a size > 0.
func (s *Store) startAction(ctx context.Context, tenantID, id string, size int, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task, now time.Time, q *store.Quota) (*model.Instance, error) {
	if task == nil {
		return nil, fmt.Errorf("sqlite: start action on instance %s: nil task", id)
	}
	var out *model.Instance
	err := s.write(ctx, func(tx *sql.Tx) error {
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
		if _, err := tx.ExecContext(ctx, `DELETE FROM inline_leases WHERE instance_id = ?`, id); err != nil {
			return err
		}
		at := s.now()
		inst.Status = newStatus
		if task.Kind == model.TaskDelete {
			inst.Deleting = true
		}
		inst.Updated = at
		if _, err := tx.ExecContext(ctx, `UPDATE instances SET status = ?, deleting = ?, volume_size = ?, updated = ? WHERE id = ?`,
			string(inst.Status), inst.Deleting, inst.VolumeSize, unix(at), id); err != nil {
			return err
		}
		task.InstanceID = id
		out = inst
		return insertTask(ctx, tx, task, at)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: start action on instance %s: %w", id, err)
	}
	return out, nil
}

// SetObservedStatus implements store.Instances.
func (s *Store) SetObservedStatus(ctx context.Context, id string, from []model.InstanceStatus, status model.InstanceStatus) (bool, error) {
	changed := false
	err := s.write(ctx, func(tx *sql.Tx) error {
		inst, err := getInstance(ctx, tx, "", id)
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
		if _, err := tx.ExecContext(ctx, `UPDATE instances SET status = ?, updated = ? WHERE id = ?`,
			string(status), unix(s.now()), id); err != nil {
			return err
		}
		changed = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: set observed status of instance %s: %w", id, err)
	}
	return changed, nil
}

// AssignAddress implements store.Instances.
func (s *Store) AssignAddress(ctx context.Context, id string, candidates []string) (string, error) {
	var addr string
	err := s.write(ctx, func(tx *sql.Tx) error {
		inst, err := getInstance(ctx, tx, "", id)
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
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM instances WHERE address = ?`, c).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE instances SET address = ?, updated = ? WHERE id = ?`,
				c, unix(s.now()), id); err != nil {
				return err
			}
			addr = c
			return nil
		}
		return store.ErrNoAddress
	})
	if err != nil {
		return "", fmt.Errorf("sqlite: assign address to instance %s: %w", id, err)
	}
	return addr, nil
}

// DeleteInstance implements store.Instances. Unfinished tasks are kept: the
// delete task that calls it finishes afterwards.
func (s *Store) DeleteInstance(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM instances WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM tasks WHERE instance_id = ? AND state IN ('done', 'failed')`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete instance %s: %w", id, err)
	}
	return nil
}

// CreateReplica implements store.Instances.
func (s *Store) CreateReplica(ctx context.Context, inst *model.Instance, task *model.Task, allowed []model.InstanceStatus, max int, secret []byte, q *store.Quota) error {
	now := s.now()
	sqlrow.DefaultTimes(&inst.Created, &inst.Updated, now)
	err := s.write(ctx, func(tx *sql.Tx) error {
		src, err := getInstance(ctx, tx, "", inst.ReplicaOf)
		if err != nil {
			return err
		}
		err = sqlrow.CheckReplicaSource(src, inst, allowed, max,
			func() (bool, error) { return hasUnfinishedTask(ctx, tx, src.ID) },
			func() (int, error) {
				var n int
				err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM instances WHERE `+replicasWhere, src.ID).Scan(&n)
				return n, err
			})
		if err != nil {
			return err
		}
		if err := admit(ctx, tx, q, inst.TenantID, model.Usage(inst)); err != nil {
			return err
		}
		if len(src.ReplicationSecret) == 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE instances SET replication_secret = ? WHERE id = ?`, secret, src.ID); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO instances (`+instanceCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, instanceArgs(inst)...)
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
		return fmt.Errorf("sqlite: create replica %s of %s: %w", inst.ID, inst.ReplicaOf, err)
	}
	return nil
}

// replicasWhere selects the replicas of the source given as parameter. The
// index instances_replica_of is partial (on non-empty replica_of): without
// the second term the planner cannot use it for a parameter and scans the
// whole table, which every GET /instances/{id} of a source pays.
const replicasWhere = `replica_of = ? AND replica_of <> ''`

// ListReplicas implements store.Instances.
func (s *Store) ListReplicas(ctx context.Context, sourceID string) ([]*model.Instance, error) {
	rows, err := s.ro.QueryContext(ctx, `SELECT `+instanceCols+` FROM instances WHERE `+replicasWhere+` ORDER BY id`, sourceID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list replicas of %s: %w", sourceID, err)
	}
	defer rows.Close()
	var out []*model.Instance
	for rows.Next() {
		inst, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list replicas of %s: %w", sourceID, err)
		}
		out = append(out, inst)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list replicas of %s: %w", sourceID, err)
	}
	return out, nil
}

// StartGroupAction implements store.Instances.
func (s *Store) StartGroupAction(ctx context.Context, tenantID string, ids []string, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task, now time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := gateInline(ctx, tx, tenantID, id, allowed, "", now); err != nil {
				return err
			}
		}
		at := s.now()
		for _, id := range ids {
			// A lease that ended is of a holder that died: it goes now.
			if _, err := tx.ExecContext(ctx, `DELETE FROM inline_leases WHERE instance_id = ?`, id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE instances SET status = ?, updated = ? WHERE id = ?`,
				string(newStatus), unix(at), id); err != nil {
				return err
			}
		}
		return insertTask(ctx, tx, task, at)
	})
	if err != nil {
		return fmt.Errorf("sqlite: start action on instances %v: %w", ids, err)
	}
	return nil
}
