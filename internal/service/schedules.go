package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// DefaultRetention is Rackspace's default full_backup_retention.
const DefaultRetention = 2

// ScheduleRequest is a decoded schedule create or update (Rackspace
// §17.2); nil fields are not given.
type ScheduleRequest struct {
	InstanceID string
	DayOfWeek  *int // 0 = Sunday ... 6; 7 = a full backup every day
	Hour       *int
	Minute     *int
	Retention  *int
	// RunNow (update only) makes the schedule due at once.
	RunNow bool
}

// nextRun returns the first time strictly after t at hour:minute UTC.
func nextRun(t time.Time, hour, minute int) time.Time {
	t = t.UTC()
	n := time.Date(t.Year(), t.Month(), t.Day(), hour, minute, 0, 0, time.UTC)
	if !n.After(t) {
		n = n.AddDate(0, 0, 1)
	}
	return n
}

// CreateSchedule implements api.BackupBackend: one schedule per instance.
func (s *Backups) CreateSchedule(ctx context.Context, tenantID string, req ScheduleRequest) (*model.Schedule, error) {
	const op = "schedule.create"
	if err := s.backupsOn(op); err != nil {
		return nil, err
	}
	if req.DayOfWeek == nil || req.Hour == nil || req.Minute == nil {
		return nil, fault.New(fault.Invalid, op, "day_of_week, hour and minute are required.")
	}
	inst, err := s.st.GetInstance(ctx, tenantID, req.InstanceID)
	if err != nil {
		return nil, mapStoreErr(op, req.InstanceID, err)
	}
	// A schedule that could never make a backup is refused as a backup is.
	if _, err := s.backupEngine(op, inst); err != nil {
		return nil, err
	}
	now := s.now()
	sc := &model.Schedule{
		ID: uuid.NewString(), TenantID: tenantID, InstanceID: inst.ID,
		DayOfWeek: *req.DayOfWeek, Hour: *req.Hour, Minute: *req.Minute, Retention: DefaultRetention,
		Created: now, Updated: now,
	}
	if req.Retention != nil {
		sc.Retention = *req.Retention
	}
	sc.NextRun = nextRun(now, sc.Hour, sc.Minute)
	if err := s.st.CreateSchedule(ctx, sc); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, fault.Errorf(fault.Unprocessable, op, "Instance %s already has a backup schedule.", inst.ID)
		}
		return nil, err
	}
	s.log.Info("schedule created", "tenant_id", tenantID, "instance_id", inst.ID, "schedule_id", sc.ID)
	return sc, nil
}

func mapScheduleErr(op, id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fault.Errorf(fault.NotFound, op, "Schedule %s cannot be found.", id)
	}
	return fmt.Errorf("%s %s: %w", op, id, err)
}

// GetSchedule implements api.BackupBackend.
func (s *Backups) GetSchedule(ctx context.Context, tenantID, id string) (*model.Schedule, error) {
	const op = "schedule.get"
	if err := s.backupsOn(op); err != nil {
		return nil, err
	}
	sc, err := s.st.GetSchedule(ctx, tenantID, id)
	if err != nil {
		return nil, mapScheduleErr(op, id, err)
	}
	return sc, nil
}

// ListSchedules implements api.BackupBackend.
func (s *Backups) ListSchedules(ctx context.Context, tenantID string) ([]*model.Schedule, error) {
	if err := s.backupsOn("schedule.list"); err != nil {
		return nil, err
	}
	return s.st.ListSchedules(ctx, tenantID)
}

// UpdateSchedule implements api.BackupBackend.
func (s *Backups) UpdateSchedule(ctx context.Context, tenantID, id string, req ScheduleRequest) (*model.Schedule, error) {
	const op = "schedule.update"
	if err := s.backupsOn(op); err != nil {
		return nil, err
	}
	if _, err := s.st.GetSchedule(ctx, tenantID, id); err != nil {
		return nil, mapScheduleErr(op, id, err)
	}
	now := s.now()
	sc, err := s.st.UpdateSchedule(ctx, id, func(c *model.Schedule) error {
		if req.DayOfWeek != nil {
			c.DayOfWeek = *req.DayOfWeek
		}
		if req.Hour != nil {
			c.Hour = *req.Hour
		}
		if req.Minute != nil {
			c.Minute = *req.Minute
		}
		if req.Retention != nil {
			c.Retention = *req.Retention
		}
		c.NextRun = nextRun(now, c.Hour, c.Minute)
		if req.RunNow {
			c.NextRun = now
		}
		return nil
	})
	if err != nil {
		return nil, mapScheduleErr(op, id, err)
	}
	if req.RunNow {
		if err := s.RunSchedules(ctx); err != nil {
			s.log.Warn("run_now", "schedule_id", id, "err", err)
		}
	}
	return sc, nil
}

// DeleteSchedule implements api.BackupBackend. The backups it made stay.
func (s *Backups) DeleteSchedule(ctx context.Context, tenantID, id string) error {
	const op = "schedule.delete"
	if err := s.backupsOn(op); err != nil {
		return err
	}
	if _, err := s.st.GetSchedule(ctx, tenantID, id); err != nil {
		return mapScheduleErr(op, id, err)
	}
	if err := s.st.DeleteSchedule(ctx, id); err != nil {
		return mapScheduleErr(op, id, err)
	}
	return nil
}

// RunSchedules runs every schedule that is due at the service clock's
// now: a full backup on the schedule's day (every day with 7), else an
// incremental on the instance's newest completed automated full backup
// (a full one if there is none). It then prunes, per schedule, automated
// full backups beyond the retention (with their incrementals). A schedule
// whose instance is busy stays due and is tried again on the next run; one
// whose instance is gone is removed.
func (s *Backups) RunSchedules(ctx context.Context) error {
	if !s.enabled() {
		return nil
	}
	scs, err := s.st.ListSchedules(ctx, "")
	if err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	var errs []error
	for _, sc := range scs {
		if !sc.NextRun.After(now) {
			if err := s.runSchedule(ctx, sc, now); err != nil {
				errs = append(errs, err)
			}
		}
		if err := s.prune(ctx, sc); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// errScheduleTaken says another hoard (a replica sharing the store) ran a
// due schedule first.
var errScheduleTaken = errors.New("schedule run by another hoard")

// runSchedule runs the due schedule sc (as listed) once: it first claims
// the run in the store (NextRun moves on, only if it is still the one
// listed), so that of several replicas sharing the store exactly one makes
// the backup. A backup postponed because the instance is busy hands the
// run back (the schedule stays due).
func (s *Backups) runSchedule(ctx context.Context, sc *model.Schedule, now time.Time) error {
	if _, err := s.st.GetInstance(ctx, "", sc.InstanceID); errors.Is(err, store.ErrNotFound) {
		s.log.Info("schedule removed: its instance is gone", "schedule_id", sc.ID, "instance_id", sc.InstanceID)
		return s.st.DeleteSchedule(ctx, sc.ID)
	}
	claimed, err := s.st.UpdateSchedule(ctx, sc.ID, func(c *model.Schedule) error {
		if !c.NextRun.Equal(sc.NextRun) {
			return errScheduleTaken
		}
		c.LastScheduled = now
		c.NextRun = nextRun(now, c.Hour, c.Minute)
		return nil
	})
	switch {
	case errors.Is(err, errScheduleTaken), errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	full := sc.DayOfWeek == 7 || int(now.Weekday()) == sc.DayOfWeek
	req := CreateBackupRequest{
		Name:       fmt.Sprintf("scheduled %s", now.Format("2006-01-02 15:04")),
		InstanceID: sc.InstanceID, Automated: true,
		Description: "Automated backup of schedule " + sc.ID,
	}
	if !full {
		fulls, err := s.automatedFulls(ctx, sc)
		if err != nil {
			return s.unclaim(ctx, claimed, sc, err)
		}
		if len(fulls) > 0 {
			req.ParentID = fulls[0].ID
		}
	}
	_, err = s.CreateBackup(ctx, sc.TenantID, req)
	switch k := fault.KindOf(err); {
	case err == nil:
	case k == fault.Unprocessable:
		s.log.Info("scheduled backup postponed: instance busy", "schedule_id", sc.ID, "instance_id", sc.InstanceID)
		return s.unclaim(ctx, claimed, sc, nil) // stays due
	default:
		s.log.Warn("scheduled backup failed", "schedule_id", sc.ID, "instance_id", sc.InstanceID, "err", err)
	}
	return nil
}

// unclaim hands a claimed run of sc back (the schedule is due again as
// listed), unless the schedule changed since the claim; it returns cause
// joined with its own failure.
func (s *Backups) unclaim(ctx context.Context, claimed, sc *model.Schedule, cause error) error {
	_, err := s.st.UpdateSchedule(ctx, sc.ID, func(c *model.Schedule) error {
		if !c.NextRun.Equal(claimed.NextRun) { // whole minutes: exact after the store's round trip
			return errScheduleTaken
		}
		c.NextRun, c.LastScheduled = sc.NextRun, sc.LastScheduled
		return nil
	})
	if errors.Is(err, errScheduleTaken) || errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	return errors.Join(cause, err)
}

// automatedFulls returns the schedule instance's completed automated full
// backups, newest first.
func (s *Backups) automatedFulls(ctx context.Context, sc *model.Schedule) ([]*model.Backup, error) {
	list, err := s.bs.ListBackups(ctx, store.BackupFilter{TenantID: sc.TenantID, InstanceID: sc.InstanceID}, 0, 0)
	if err != nil {
		return nil, err
	}
	var out []*model.Backup
	for _, b := range list {
		if b.Automated && b.ParentID == "" && b.Status == model.BackupCompleted {
			out = append(out, b)
		}
	}
	return out, nil
}

// prune deletes the automated full backups of sc's instance beyond its
// retention, newest kept, with their incrementals.
func (s *Backups) prune(ctx context.Context, sc *model.Schedule) error {
	fulls, err := s.automatedFulls(ctx, sc)
	if err != nil || len(fulls) <= sc.Retention {
		return err
	}
	var errs []error
	for _, b := range fulls[sc.Retention:] {
		if err := s.DeleteBackup(ctx, sc.TenantID, b.ID); err != nil && fault.KindOf(err) != fault.NotFound {
			errs = append(errs, err)
		} else if err == nil {
			s.log.Info("pruned backup", "schedule_id", sc.ID, "backup_id", b.ID)
		}
	}
	return errors.Join(errs...)
}

// RunScheduler runs due schedules every interval until ctx ends. The
// decisions use the service clock (Config.Now); the interval only paces
// the checks.
func (s *Backups) RunScheduler(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.RunSchedules(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("schedules", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
