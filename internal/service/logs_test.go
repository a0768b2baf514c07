package service

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/hoard-db/hoard/internal/backup"
	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/enginelog"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// logEngine is memEngine with logs: "general" (switched at once),
// "collector" (switched by a restart) and "error" (always written). The
// running server's state is on.
type logEngine struct {
	*memEngine
	mu sync.Mutex
	on map[string]bool
}

func (e *logEngine) Logs() []datastore.LogDef {
	return []datastore.LogDef{
		{Name: "general", Type: datastore.LogUser, File: "general.log"},
		{Name: "collector", Type: datastore.LogUser, File: "collector.log", RestartRequired: true},
		{Name: "error", Type: datastore.LogSys, File: "error.log"},
	}
}
func (e *logEngine) SetLog(_ context.Context, _ datastore.Conn, name string, on bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.on[name] = on
	return nil
}
func (e *logEngine) LogOn(_ context.Context, _ datastore.Conn, name string) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.on[name], nil
}

// logDriver is stubDriver with a filesystem: every instance's logs are in
// dir.
type logDriver struct {
	stubDriver
	dir string
}

func (d logDriver) EngineSpec(driver.Spec) datastore.Spec { return datastore.Spec{LogDir: d.dir} }
func (d logDriver) ProvisionFrom(context.Context, driver.Spec, func(context.Context, datastore.Spec) error) error {
	return nil
}

// newLogService returns a test service whose "mem" engine has logs, on a
// driver with a filesystem and a backup storage, and the id of its
// ACTIVE "mem" instance and its log directory.
func newLogService(t *testing.T) (*Service, *logEngine, string, string) {
	t.Helper()
	s, mem, ids := newTestService(t, model.StatusActive)
	eng := &logEngine{memEngine: mem, on: map[string]bool{}}
	s.cfg.Engines["mem"] = eng
	dir := t.TempDir()
	s.cfg.Driver = logDriver{dir: dir}
	st, err := backup.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.cfg.Backups.Storage = st
	return s, eng, ids["mem"], dir
}

func TestLogActions(t *testing.T) {
	ctx := t.Context()
	s, eng, id, dir := newLogService(t)

	logs, err := s.ListLogs(ctx, "t1", id)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range logs {
		names = append(names, l.Name+":"+string(l.Status))
	}
	if want := []string{"general:Disabled", "collector:Disabled", "error:Enabled"}; !slices.Equal(names, want) {
		t.Errorf("ListLogs = %v, want %v", names, want)
	}

	// Refusals.
	refusals := []struct {
		name string
		a    LogAction
		kind fault.Kind
	}{
		{"enable and disable", LogAction{Name: "general", Enable: true, Disable: true}, fault.Invalid},
		{"unknown log", LogAction{Name: "nope"}, fault.NotFound},
		{"enable a SYS log", LogAction{Name: "error", Enable: true}, fault.Invalid},
		{"disable a SYS log", LogAction{Name: "error", Disable: true}, fault.Invalid},
	}
	for _, r := range refusals {
		if _, err := s.LogAction(ctx, "t1", id, r.a); !fault.Is(err, r.kind) {
			t.Errorf("LogAction(%s) = %v, want kind %v", r.name, err, r.kind)
		}
	}
	if _, err := s.LogAction(ctx, "t2", id, LogAction{Name: "general"}); !fault.Is(err, fault.NotFound) {
		t.Errorf("LogAction(another tenant) = %v, want 404", err)
	}

	// A dynamic log: switched in the engine at once, the instance stays ACTIVE.
	v, err := s.LogAction(ctx, "t1", id, LogAction{Name: "general", Enable: true})
	if err != nil || v.Status != enginelog.StatusEnabled || !eng.on["general"] {
		t.Fatalf("enable general = %+v, %v (engine on: %v); want Enabled", v, err, eng.on["general"])
	}
	inst, _ := s.st.GetInstance(ctx, "", id)
	if inst.Status != model.StatusActive || !slices.Equal(inst.Logs, []string{"general"}) {
		t.Errorf("after enable: status %s, logs %v; want ACTIVE, [general]", inst.Status, inst.Logs)
	}

	// Publish: lines become parts; the view counts them.
	if err := os.WriteFile(filepath.Join(dir, "general.log"), []byte("select 1\nselect 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err = s.LogAction(ctx, "t1", id, LogAction{Name: "general"})
	if err != nil || v.Status != enginelog.StatusReady || v.Pending != 18 || v.Container != "" {
		t.Errorf("show general = %+v, %v; want Ready, 18 pending, no container", v, err)
	}
	v, err = s.LogAction(ctx, "t1", id, LogAction{Name: "general", Publish: true})
	if err != nil || v.Status != enginelog.StatusPublished || v.Published != 18 || v.Pending != 0 ||
		v.Container != enginelog.Container || v.Prefix != id+"/"+eng.Name()+"-general/" {
		t.Errorf("publish general = %+v, %v; want Published, 18 bytes", v, err)
	}
	v, err = s.LogAction(ctx, "t1", id, LogAction{Name: "general", Discard: true})
	if err != nil || v.Status != enginelog.StatusReady || v.Published != 0 || v.Container != "" {
		t.Errorf("discard general = %+v, %v; want Ready, nothing published", v, err)
	}

	// Publishing a SYS log is allowed; publishing a disabled USER log
	// enables it (Trove).
	if _, err := s.LogAction(ctx, "t1", id, LogAction{Name: "error", Publish: true}); err != nil {
		t.Errorf("publish error = %v", err)
	}

	// A restart-required log: recorded, RESTART_REQUIRED, shown as such
	// until the engine follows.
	v, err = s.LogAction(ctx, "t1", id, LogAction{Name: "collector", Enable: true})
	if err != nil || v.Status != enginelog.StatusRestartRequired {
		t.Fatalf("enable collector = %+v, %v; want Restart_Required", v, err)
	}
	inst, _ = s.st.GetInstance(ctx, "", id)
	if inst.Status != model.StatusRestartRequired || !slices.Equal(inst.Logs, []string{"collector", "general"}) {
		t.Errorf("after enable collector: status %s, logs %v; want RESTART_REQUIRED, [collector general]", inst.Status, inst.Logs)
	}
	if eng.on["collector"] {
		t.Errorf("a restart-required log was switched in the running engine")
	}
	eng.on["collector"] = true // the restart
	if v, err := s.LogAction(ctx, "t1", id, LogAction{Name: "collector"}); err != nil || v.Status != enginelog.StatusEnabled {
		t.Errorf("show collector after the restart = %+v, %v; want Enabled", v, err)
	}

	// Disable.
	if v, err := s.LogAction(ctx, "t1", id, LogAction{Name: "general", Disable: true}); err != nil || v.Status != enginelog.StatusDisabled || eng.on["general"] {
		t.Errorf("disable general = %+v, %v; want Disabled", v, err)
	}
}

func TestLogsUnsupported(t *testing.T) {
	ctx := t.Context()
	// No filesystem of hoard's (stubDriver), or an engine without logs.
	s, _, ids := newTestService(t, model.StatusActive)
	if _, err := s.ListLogs(ctx, "t1", ids["mem"]); !fault.Is(err, fault.NotImplemented) || fault.Message(err) != "Log actions are not supported." {
		t.Errorf("ListLogs without a filesystem = %v, want 501", err)
	}
	s, _, id, _ := newLogService(t)
	if _, err := s.ListLogs(ctx, "t1", "inst-bare"); !fault.Is(err, fault.NotImplemented) {
		t.Errorf("ListLogs of an engine without logs = %v, want 501", err)
	}
	// Without a storage: shown and switched, not published.
	s.cfg.Backups.Storage = nil
	if _, err := s.LogAction(ctx, "t1", id, LogAction{Name: "general", Enable: true}); err != nil {
		t.Errorf("enable without a storage = %v", err)
	}
	if _, err := s.LogAction(ctx, "t1", id, LogAction{Name: "general", Publish: true}); !fault.Is(err, fault.NotImplemented) {
		t.Errorf("publish without a storage = %v, want 501", err)
	}
}

// TestLogObjects: the Swift view lists the parts of a published log by
// its prefix and reads them, for the tenant of the instance only.
func TestLogObjects(t *testing.T) {
	ctx := t.Context()
	s, _, id, dir := newLogService(t)
	if err := os.WriteFile(filepath.Join(dir, "error.log"), []byte("started\nready\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := s.LogAction(ctx, "t1", id, LogAction{Name: "error", Publish: true})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := s.ListLogObjects(ctx, "t1", v.Container, v.Prefix)
	if err != nil || len(objs) != 1 || objs[0].Lines != 2 || objs[0].Bytes != 14 || objs[0].Modified.IsZero() {
		t.Fatalf("ListLogObjects = %+v, %v; want one part of 2 lines", objs, err)
	}
	o, rc, err := s.OpenLogObject(ctx, "t1", v.Container, objs[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "started\nready\n" || o.Lines != 2 {
		t.Errorf("OpenLogObject = %+v, %q", o, b)
	}

	tests := []struct {
		name, tenant, container, prefix string
	}{
		{"another tenant", "t2", v.Container, v.Prefix},
		{"another container", "t1", "backups", v.Prefix},
		{"a prefix hoard never makes", "t1", v.Container, id + "/"},
	}
	for _, tt := range tests {
		objs, err := s.ListLogObjects(ctx, tt.tenant, tt.container, tt.prefix)
		if len(objs) != 0 || (err != nil && !fault.Is(err, fault.NotFound)) {
			t.Errorf("ListLogObjects(%s) = %+v, %v; want nothing", tt.name, objs, err)
		}
		if _, _, err := s.OpenLogObject(ctx, tt.tenant, tt.container, tt.prefix+"log-x"); !fault.Is(err, fault.NotFound) {
			t.Errorf("OpenLogObject(%s) = %v, want 404", tt.name, err)
		}
	}
	if _, _, err := s.OpenLogObject(ctx, "t2", v.Container, objs[0].Name); !fault.Is(err, fault.NotFound) {
		t.Errorf("OpenLogObject(another tenant's part) = %v, want 404", err)
	}
}
