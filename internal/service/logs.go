package service

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/enginelog"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// Logs is the guest log API (reference §16.1): the logs an instance's
// engine exposes (datastore.Logger), switched on and off, published into
// the backup storage and discarded there (package enginelog). The log
// files are read where the driver keeps them (driver.Filesystem); a driver
// without a filesystem of hoard's, or an engine without logs, has none
// (501, Trove's answer without Swift).
type Logs struct {
	*deps
	// locks serialises the publications and discards of one instance
	// (within this hoard), which read and write its metafiles.
	locks instanceLocks
}

// LogView is a log as the API shows it (reference §16.1).
type LogView struct {
	Name      string
	Type      datastore.LogType
	Status    enginelog.Status
	Published int64
	Pending   int64
	// Container and Prefix are where the published parts are ("" before
	// anything is published: the API shows "None"); Metafile is the
	// metafile's name in Container.
	Container string
	Prefix    string
	Metafile  string
}

// LogAction is a POST on an instance's logs: the log's name and what to
// do with it; none set is a show. Enable and Disable together are refused.
type LogAction struct {
	Name    string
	Enable  bool
	Disable bool
	Publish bool
	Discard bool
}

// logsUnsupported is Trove's 501 for logs that cannot be had.
func logsUnsupported(op string) error {
	return fault.New(fault.NotImplemented, op, "Log actions are not supported.")
}

// logTarget is an instance with what its logs need.
type logTarget struct {
	inst *model.Instance
	eng  datastore.Engine
	lg   datastore.Logger
	sp   driver.Spec
	dir  string // the engine's log directory
}

func (s *Logs) target(ctx context.Context, op, tenantID, id string) (logTarget, error) {
	inst, err := s.st.GetInstance(ctx, tenantID, id)
	if err != nil {
		return logTarget{}, mapStoreErr(op, id, err)
	}
	eng, err := s.engineFor(inst)
	if err != nil {
		return logTarget{}, err
	}
	lg, ok := eng.(datastore.Logger)
	fsd, fsOK := s.cfg.Driver.(driver.Filesystem)
	if !ok || !fsOK {
		return logTarget{}, logsUnsupported(op)
	}
	sp, err := s.spec(ctx, inst)
	if err != nil {
		return logTarget{}, err
	}
	return logTarget{inst: inst, eng: eng, lg: lg, sp: sp, dir: fsd.EngineSpec(sp).LogDir}, nil
}

func (s *Logs) publisher() enginelog.Publisher {
	return enginelog.Publisher{Storage: s.cfg.Backups.Storage, Now: s.cfg.Now}
}

func ident(t logTarget, name string) enginelog.Ident {
	return enginelog.Ident{InstanceID: t.inst.ID, Engine: t.eng.Name(), Log: name}
}

// ListLogs implements api.Backend: every log of the tenant's instance id,
// in the engine's order.
func (s *Logs) ListLogs(ctx context.Context, tenantID, id string) ([]LogView, error) {
	const op = "instance.log.list"
	t, err := s.target(ctx, op, tenantID, id)
	if err != nil {
		return nil, err
	}
	defs := t.lg.Logs()
	out := make([]LogView, 0, len(defs))
	for _, d := range defs {
		out = append(out, s.view(ctx, t, d, nil))
	}
	return out, nil
}

// view is d's state now; meta, when given, is its metafile as just
// written (else it is read).
func (s *Logs) view(ctx context.Context, t logTarget, d datastore.LogDef, meta *enginelog.Meta) LogView {
	id := ident(t, d.Name)
	var m enginelog.Meta
	switch {
	case meta != nil:
		m = *meta
	case s.cfg.Backups.Storage != nil:
		var err error
		if m, err = s.publisher().Meta(ctx, id); err != nil {
			s.log.Warn("metafile of a log unreadable", "instance_id", t.inst.ID, "log", d.Name, "err", err)
		}
	}
	on := d.Type == datastore.LogSys || slices.Contains(t.inst.Logs, d.Name)
	switching := false
	if d.Type == datastore.LogUser && d.RestartRequired {
		switching = s.switching(ctx, t, d, on)
	}
	f, err := enginelog.Stat(filepath.Join(t.dir, d.File))
	if err != nil {
		s.log.Warn("log file unreadable", "instance_id", t.inst.ID, "log", d.Name, "err", err)
	}
	st, published, pending := enginelog.StatusOf(on, switching, err == nil, f, m)
	v := LogView{Name: d.Name, Type: d.Type, Status: st, Published: published, Pending: pending, Metafile: id.Metafile()}
	if published > 0 {
		v.Container, v.Prefix = enginelog.Container, id.Prefix()
	}
	return v
}

// switching reports whether the engine of t, asked now, writes restart-
// required log d otherwise than wanted (on): it follows at its next
// restart. An engine that cannot be asked is taken to follow.
func (s *Logs) switching(ctx context.Context, t logTarget, d datastore.LogDef, on bool) bool {
	if !slices.Contains(adminAllowed, t.inst.Status) {
		return false
	}
	c, err := s.adminConn(t.inst, t.sp, t.eng)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, logOnTimeout)
	defer cancel()
	live, err := t.lg.LogOn(ctx, c, d.Name)
	return err == nil && live != on
}

// logOnTimeout bounds the question LogOn asks of an engine while a list
// waits.
const logOnTimeout = 5 * time.Second

// LogAction implements api.Backend (reference §16.1): a show, or enable
// or disable (a USER log; one that needs a restart puts an ACTIVE instance
// in RESTART_REQUIRED), then discard and publish (which enables a USER log
// unless told to disable it, as Trove). It returns the log's state
// afterwards.
func (s *Logs) LogAction(ctx context.Context, tenantID, id string, a LogAction) (*LogView, error) {
	const op = "instance.log.action"
	if a.Enable && a.Disable {
		return nil, fault.New(fault.Invalid, op, "Cannot enable and disable log.")
	}
	t, err := s.target(ctx, op, tenantID, id)
	if err != nil {
		return nil, err
	}
	d, ok := datastore.FindLog(t.lg.Logs(), a.Name)
	if !ok {
		return nil, fault.Errorf(fault.NotFound, op, "Log '%s' is not defined.", truncate(a.Name, 64))
	}
	if (a.Publish || a.Discard) && s.cfg.Backups.Storage == nil {
		return nil, logsUnsupported(op)
	}
	if a.Publish && !a.Disable {
		a.Enable = true
	}
	if d.Type == datastore.LogSys && (a.Enable || a.Disable) && !a.Publish {
		verb := "enable"
		if a.Disable {
			verb = "disable"
		}
		return nil, fault.Errorf(fault.Invalid, op, "Cannot %s a SYSTEM log ('%s').", verb, d.Name)
	}
	if d.Type == datastore.LogUser {
		on := slices.Contains(t.inst.Logs, d.Name)
		if (on && a.Disable) || (!on && a.Enable) {
			if t.inst, err = s.switchLog(ctx, op, tenantID, t.inst, d, a.Enable); err != nil {
				return nil, err
			}
			if t.sp, err = s.spec(ctx, t.inst); err != nil {
				return nil, err
			}
		}
	}
	var meta *enginelog.Meta
	if a.Discard || a.Publish {
		unlock, err := s.locks.lockCtx(ctx, t.inst.ID)
		if err != nil {
			return nil, waitErr(ctx, op, t.inst.ID, err)
		}
		defer unlock()
		p, lid := s.publisher(), ident(t, d.Name)
		if a.Discard {
			if err := p.Discard(ctx, lid); err != nil {
				return nil, s.storageErr(op, t.inst.ID, err)
			}
			meta = &enginelog.Meta{}
		}
		if a.Publish {
			m, err := p.Publish(ctx, lid, string(d.Type), filepath.Join(t.dir, d.File))
			if err != nil {
				return nil, s.storageErr(op, t.inst.ID, err)
			}
			meta = &m
		}
	}
	v := s.view(ctx, t, d, meta)
	return &v, nil
}

// storageErr classifies a failed publication or discard.
func (s *Logs) storageErr(op, id string, err error) error {
	if errors.Is(err, enginelog.ErrNotRegular) {
		return fault.New(fault.Unprocessable, op, "The log file is not a regular file; it cannot be published.")
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	s.log.Error("log publication failed", "instance_id", id, "err", err)
	return fault.Wrap(fault.Unavailable, op, "The log storage is unavailable; try again later.", err)
}

// switchLog turns USER log d on or off for instance inst: recorded first
// (so that every later start renders it), written to the engine's
// configuration, and applied to the running engine at once unless d needs
// a restart; then (or if applying fails) an ACTIVE instance goes to
// RESTART_REQUIRED. It is an inline operation (inline.go): no restart or
// delete takes the engine away meanwhile.
func (s *Logs) switchLog(ctx context.Context, op, tenantID string, inst *model.Instance, d datastore.LogDef, on bool) (*model.Instance, error) {
	_, unlock, err := s.acquireInline(ctx, op, tenantID, inst.ID, uuid.NewString(), invalidState)
	if err != nil {
		return nil, err
	}
	defer unlock()
	inst, err = s.st.UpdateInstance(ctx, inst.ID, func(i *model.Instance) error {
		if !slices.Contains(adminAllowed, i.Status) {
			return invalidState(op, i)
		}
		i.Logs = slices.DeleteFunc(slices.Clone(i.Logs), func(n string) bool { return n == d.Name })
		if on {
			i.Logs = append(i.Logs, d.Name)
			slices.Sort(i.Logs)
		}
		if d.RestartRequired && i.Status == model.StatusActive {
			i.Status = model.StatusRestartRequired
		}
		return nil
	})
	if err != nil {
		if fault.KindOf(err) != fault.Internal {
			return nil, err
		}
		return nil, mapStoreErr(op, inst.ID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	sp, err := s.spec(ctx, inst)
	if err == nil {
		if rc, ok := s.cfg.Driver.(reconfigurer); ok {
			err = rc.Reconfigure(ctx, sp)
		}
	}
	if err == nil && !d.RestartRequired {
		var e datastore.Engine
		if e, err = s.engineFor(inst); err == nil {
			var c datastore.Conn
			if c, err = s.adminConn(inst, sp, e); err == nil {
				err = e.(datastore.Logger).SetLog(ctx, c, d.Name, on)
			}
		}
	}
	if err != nil {
		s.log.Warn("log switch not applied at once; restart required", "instance_id", inst.ID, "log", d.Name, "err", err)
		if i, uerr := s.st.UpdateInstance(context.WithoutCancel(ctx), inst.ID, func(i *model.Instance) error {
			if i.Status == model.StatusActive {
				i.Status = model.StatusRestartRequired
			}
			return nil
		}); uerr == nil {
			inst = i
		}
	}
	s.log.Info("log switched", "instance_id", inst.ID, "log", d.Name, "on", on, "restart_required", d.RestartRequired)
	return inst, nil
}
