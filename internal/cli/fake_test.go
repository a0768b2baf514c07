package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/api"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/identity"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/service"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/sqlite"
)

// fakeBackend is an in-memory api.Backend. Each GET of an instance moves
// it one step along its script of statuses, so --wait sees progress. The
// embedded interface keeps the fake compiling when the Backend grows;
// calling a method it lacks panics, which the API turns into a 500.
type fakeBackend struct {
	api.Backend

	mu        sync.Mutex
	instances map[string]*model.Instance
	script    map[string][]model.InstanceStatus // statuses still to come
	faultMsg  string                            // fault of an ERROR reached by script
	seq       int
	lastReq   service.CreateInstanceRequest
	promoted  []string // PromoteReplica calls
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{instances: map[string]*model.Instance{}, script: map[string][]model.InstanceStatus{}}
}

func (f *fakeBackend) ListFlavors(context.Context) ([]model.Flavor, error) {
	return []model.Flavor{{ID: 1, Name: "512MB Instance", RAM: 512, VCPUs: 1}, {ID: 2, Name: "1GB Instance", RAM: 1024, VCPUs: 1}}, nil
}

func (f *fakeBackend) GetFlavor(_ context.Context, id int) (*model.Flavor, error) {
	return &model.Flavor{ID: id, Name: "x", RAM: 512}, nil
}

func (f *fakeBackend) ListDatastores(context.Context) ([]model.Datastore, error) {
	return []model.Datastore{{ID: "ds-mysql", Name: "mysql", DefaultVersionID: "v-1011",
		Versions: []model.DatastoreVersion{{ID: "v-1011", DatastoreID: "ds-mysql", DatastoreName: "mysql", Name: "10.11", Version: "10.11.6", Engine: "mariadb", Active: true}}}}, nil
}

func (f *fakeBackend) Ready(context.Context) error { return nil }

func (f *fakeBackend) add(tenant, name string, status model.InstanceStatus, then ...model.InstanceStatus) *model.Instance {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	in := &model.Instance{ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", f.seq), TenantID: tenant, Name: name,
		Status: status, FlavorID: 1, VolumeSize: 1, Datastore: "mysql", DatastoreVersion: "10.11", Created: now, Updated: now}
	if status == model.StatusActive {
		in.Address, in.Port = "127.0.1.9", 3306
	}
	f.instances[in.ID] = in
	f.script[in.ID] = then
	return in
}

func (f *fakeBackend) CreateInstance(_ context.Context, tenant string, req service.CreateInstanceRequest) (*service.InstanceDetail, error) {
	if _, err := strconv.Atoi(req.FlavorRef); err != nil {
		return nil, fault.Errorf(fault.Invalid, "fake", "Flavor %s cannot be found.", req.FlavorRef)
	}
	f.mu.Lock()
	f.lastReq = req
	f.mu.Unlock()
	next := []model.InstanceStatus{model.StatusBuild, model.StatusActive}
	switch req.Name {
	case "doomed":
		next = []model.InstanceStatus{model.StatusBuild, model.StatusError}
	case "stuck":
		next = nil // BUILD for ever
	}
	in := f.add(tenant, req.Name, model.StatusBuild, next...)
	c := *in
	return &service.InstanceDetail{Instance: &c}, nil
}

func (f *fakeBackend) lookup(tenant, id string) (*model.Instance, error) {
	in, ok := f.instances[id]
	if !ok || in.TenantID != tenant {
		return nil, fault.Errorf(fault.NotFound, "fake", "Instance %s cannot be found.", id)
	}
	return in, nil
}

func (f *fakeBackend) GetInstance(_ context.Context, tenant, id string) (*service.InstanceDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.lookup(tenant, id)
	if err != nil {
		return nil, err
	}
	if s := f.script[id]; len(s) > 0 {
		in.Status, f.script[id] = s[0], s[1:]
		if in.Status == model.StatusError {
			in.Fault = &model.Fault{Message: f.faultMsg, Created: in.Created}
		}
		if in.Status == model.StatusActive {
			in.Address, in.Port = "127.0.1.9", 3306
		}
		if in.Status == "GONE" {
			delete(f.instances, id)
			return nil, fault.Errorf(fault.NotFound, "fake", "Instance %s cannot be found.", id)
		}
	}
	c := *in
	return &service.InstanceDetail{Instance: &c}, nil
}

// ListInstanceSummaries is ListInstances: the views only show the summary
// fields anyway.
func (f *fakeBackend) ListInstanceSummaries(ctx context.Context, tenant string, page store.Page) ([]*model.Instance, bool, error) {
	return f.ListInstances(ctx, tenant, page)
}

func (f *fakeBackend) ListInstances(_ context.Context, tenant string, page store.Page) ([]*model.Instance, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []*model.Instance
	for _, in := range f.instances {
		if in.TenantID == tenant && in.ID > page.Marker {
			c := *in
			all = append(all, &c)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	if len(all) > page.Limit {
		return all[:page.Limit], true, nil
	}
	return all, false, nil
}

func (f *fakeBackend) RenameInstance(_ context.Context, tenant, id, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.lookup(tenant, id)
	if err == nil {
		in.Name = name
	}
	return err
}

func (f *fakeBackend) DeleteInstance(_ context.Context, tenant, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.lookup(tenant, id)
	if err != nil {
		return err
	}
	in.Status = model.StatusShutdown
	f.script[id] = []model.InstanceStatus{model.StatusShutdown, "GONE"}
	return nil
}

func (f *fakeBackend) RestartInstance(_ context.Context, tenant, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.lookup(tenant, id)
	if err != nil {
		return err
	}
	in.Status = model.StatusReboot
	f.script[id] = []model.InstanceStatus{model.StatusReboot, model.StatusActive}
	return nil
}

// testServer is internal/api with the fake backend and the real identity
// service (SQLite in a temp dir), on an httptest listener.
type testServer struct {
	url, project string
	fb           *fakeBackend
}

const (
	testUser     = "admin"
	testPassword = "s3cret-Pw"
	testProject  = "demo"
)

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	return newTestServerWith(t, newFakeBackend())
}

// newTestServerWith is newTestServer with fb as the backend (or one that
// embeds it).
func newTestServerWith(t *testing.T, fb backend) *testServer {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hoard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ids := identity.New(st, identity.Config{})
	if err := ids.Bootstrap(ctx, testUser, testPassword, testProject); err != nil {
		t.Fatal(err)
	}
	srv := api.New(api.Config{Identity: ids.Handler(), PageSize: 2}, fb, ids)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	p, err := st.GetProjectByName(ctx, testProject)
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{url: ts.URL, project: p.ID, fb: fb.fake()}
}

// env returns OS_* variables for the server, the way admin-openrc sets them.
func (s *testServer) env() map[string]string {
	return map[string]string{
		"OS_AUTH_URL": s.url + "/identity/v3", "OS_USERNAME": testUser, "OS_PASSWORD": testPassword,
		"OS_PROJECT_NAME": testProject, "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
		"OS_REGION_NAME": "RegionOne",
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs one command against s with vars as the environment.
func runCLI(t *testing.T, vars map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(t.Context(), args, Env{
		Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(stdin),
		Getenv:       func(k string) string { return vars[k] },
		PollInterval: time.Millisecond,
	})
	return result{code, out.String(), errb.String()}
}

// PromoteReplica implements api.Backend: it records the promoted id.
func (f *fakeBackend) PromoteReplica(_ context.Context, tenant, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(tenant, id); err != nil {
		return err
	}
	f.promoted = append(f.promoted, id)
	return nil
}

// backend is the fake backend, or one that adds capabilities to it.
type backend interface {
	api.Backend
	fake() *fakeBackend
}

func (f *fakeBackend) fake() *fakeBackend { return f }

// backupBackend is fakeBackend with backups (api.BackupBackend).
type backupBackend struct {
	*fakeBackend
	api.BackupBackend // schedules: not in the fake (nil)
	backups           []*model.Backup
}

var _ api.BackupBackend = (*backupBackend)(nil)

func (b *backupBackend) addBackup(tenant, name, instance string) *model.Backup {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	bk := &model.Backup{ID: fmt.Sprintf("%08d-0000-4000-8000-00000000000b", b.seq), TenantID: tenant, Name: name,
		InstanceID: instance, Status: model.BackupCompleted, Datastore: "mysql", DatastoreVersion: "10.11", VolumeSize: 1,
		Size: 1 << 20, Created: now, Updated: now}
	b.backups = append(b.backups, bk)
	return bk
}

func (b *backupBackend) CreateBackup(context.Context, string, service.CreateBackupRequest) (*model.Backup, error) {
	return nil, fault.New(fault.NotImplemented, "fake", "not in the fake")
}

func (b *backupBackend) GetBackup(_ context.Context, tenant, id string) (*model.Backup, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, bk := range b.backups {
		if bk.ID == id && bk.TenantID == tenant {
			c := *bk
			return &c, nil
		}
	}
	return nil, fault.Errorf(fault.NotFound, "fake", "Backup %s cannot be found.", id)
}

func (b *backupBackend) ListBackups(_ context.Context, tenant, _ string, offset, limit int) ([]*model.Backup, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*model.Backup
	for _, bk := range b.backups {
		if bk.TenantID == tenant {
			c := *bk
			out = append(out, &c)
		}
	}
	out = out[min(offset, len(out)):]
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

func (b *backupBackend) ListInstanceBackups(ctx context.Context, tenant, _ string, offset, limit int) ([]*model.Backup, bool, error) {
	return b.ListBackups(ctx, tenant, "", offset, limit)
}

func (b *backupBackend) DeleteBackup(_ context.Context, tenant, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, bk := range b.backups {
		if bk.ID == id && bk.TenantID == tenant {
			b.backups = append(b.backups[:i], b.backups[i+1:]...)
			return nil
		}
	}
	return fault.Errorf(fault.NotFound, "fake", "Backup %s cannot be found.", id)
}

// InstanceCA answers as a service whose instances serve no TLS.
func (f *fakeBackend) InstanceCA(_ context.Context, tenant, id string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(tenant, id); err != nil {
		return nil, err
	}
	return nil, fault.New(fault.NotImplemented, "instance.ca", "instances of this service serve no TLS")
}
