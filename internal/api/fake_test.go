package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/identity"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/service"
	"github.com/hoard-db/hoard/internal/store"
)

// fakeBackend is an in-memory Backend with the same visible rules as the
// real one for what the API tests need: tenant-filtered lookups, paging by
// id, the BUILD delete refusal and the action state gate.
type fakeBackend struct {
	mu         sync.Mutex
	now        func() time.Time
	caOff      bool // InstanceCA: instances serve no TLS (tls_test.go)
	flavors    []model.Flavor
	datastores []model.Datastore
	instances  map[string]*model.Instance
	used       map[string]float64 // instance id → used GB
	seq        int

	summaryCalls int // ListInstanceSummaries calls

	readyErr error
	// fail makes the named method return the error (or panic if it is
	// errPanic).
	fail        map[string]error
	lastCreate  service.CreateInstanceRequest
	restarted   []string
	listedPages []store.Page

	// engines holds the databases, users and root of each instance
	// (fake_users_test.go).
	engines        map[string]*fakeEngine
	lastUserChange datastore.UserChange
}

var errPanic = fmt.Errorf("fake: panic please")

var _ Backend = (*fakeBackend)(nil)

func newFakeBackend(now func() time.Time) *fakeBackend {
	return &fakeBackend{
		now: now,
		flavors: []model.Flavor{
			{ID: 1, Name: "512MB Instance", RAM: 512, VCPUs: 1, Disk: 2},
			{ID: 2, Name: "1GB Instance", RAM: 1024, VCPUs: 1, Disk: 5},
		},
		datastores: []model.Datastore{{
			ID: "ds-mysql", Name: "mysql", DefaultVersionID: "v-1011",
			Versions: []model.DatastoreVersion{
				{ID: "v-1011", DatastoreID: "ds-mysql", DatastoreName: "mysql", Name: "10.11", Version: "10.11.19", Engine: "mariadb", Active: true},
				{ID: "v-old", DatastoreID: "ds-mysql", DatastoreName: "mysql", Name: "5.1", Version: "5.1.0", Engine: "mariadb", Active: false},
			},
		}, {
			ID: "ds-pg", Name: "postgresql",
			Versions: []model.DatastoreVersion{{ID: "v-pg", DatastoreID: "ds-pg", Name: "15", Active: false}},
		}},
		instances: map[string]*model.Instance{},
		used:      map[string]float64{},
		fail:      map[string]error{},
	}
}

func (f *fakeBackend) failure(method string) error {
	err := f.fail[method]
	if err == errPanic {
		panic("fake backend panics in " + method)
	}
	return err
}

func notFound(id string) error {
	return fault.Errorf(fault.NotFound, "fake", "Resource %s cannot be found.", id)
}

// ListFlavors implements Backend.
func (f *fakeBackend) ListFlavors(ctx context.Context) ([]model.Flavor, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failure("ListFlavors"); err != nil {
		return nil, err
	}
	return slices.Clone(f.flavors), nil
}

// GetFlavor implements Backend.
func (f *fakeBackend) GetFlavor(ctx context.Context, id int) (*model.Flavor, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fl := range f.flavors {
		if fl.ID == id {
			return &fl, nil
		}
	}
	return nil, notFound(strconv.Itoa(id))
}

// ListDatastores implements Backend.
func (f *fakeBackend) ListDatastores(ctx context.Context) ([]model.Datastore, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]model.Datastore, len(f.datastores))
	for i, ds := range f.datastores {
		ds.Versions = slices.Clone(ds.Versions)
		out[i] = ds
	}
	return out, nil
}

// CreateInstance implements Backend.
func (f *fakeBackend) CreateInstance(ctx context.Context, tenantID string, req service.CreateInstanceRequest) (*service.InstanceDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failure("CreateInstance"); err != nil {
		return nil, err
	}
	f.lastCreate = req
	flavorID, err := strconv.Atoi(req.FlavorRef)
	if err != nil || !slices.ContainsFunc(f.flavors, func(fl model.Flavor) bool { return fl.ID == flavorID }) {
		return nil, fault.Errorf(fault.Invalid, "fake", "Resource %s cannot be found.", req.FlavorRef)
	}
	in := f.addLocked(tenantID, req.Name, model.StatusBuild)
	in.FlavorID, in.VolumeSize = flavorID, req.VolumeSize
	c := *in
	return &service.InstanceDetail{Instance: &c}, nil
}

// add inserts an instance directly (test setup).
func (f *fakeBackend) add(tenant, name string, status model.InstanceStatus) *model.Instance {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addLocked(tenant, name, status)
}

func (f *fakeBackend) addLocked(tenant, name string, status model.InstanceStatus) *model.Instance {
	f.seq++
	now := f.now()
	in := &model.Instance{
		ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", f.seq), TenantID: tenant, Name: name, Status: status,
		FlavorID: 1, VolumeSize: 2, Datastore: "mysql", DatastoreVersion: "10.11", DatastoreVersionID: "v-1011",
		Port: 3306, Created: now, Updated: now,
	}
	f.instances[in.ID] = in
	return in
}

func (f *fakeBackend) lookup(tenantID, id string) (*model.Instance, error) {
	in, ok := f.instances[id]
	if !ok || in.TenantID != tenantID {
		return nil, fault.Errorf(fault.NotFound, "fake", "Instance %s cannot be found.", id)
	}
	return in, nil
}

// GetInstance implements Backend.
func (f *fakeBackend) GetInstance(ctx context.Context, tenantID, id string) (*service.InstanceDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failure("GetInstance"); err != nil {
		return nil, err
	}
	in, err := f.lookup(tenantID, id)
	if err != nil {
		return nil, err
	}
	c := *in
	d := &service.InstanceDetail{Instance: &c}
	if u, ok := f.used[id]; ok {
		d.VolumeUsedGB = &u
	}
	return d, nil
}

// ListInstances implements Backend.
func (f *fakeBackend) ListInstances(ctx context.Context, tenantID string, page store.Page) ([]*model.Instance, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failure("ListInstances"); err != nil {
		return nil, false, err
	}
	f.listedPages = append(f.listedPages, page)
	var all []*model.Instance
	for _, in := range f.instances {
		if in.TenantID == tenantID && in.ID > page.Marker {
			c := *in
			all = append(all, &c)
		}
	}
	slices.SortFunc(all, func(a, b *model.Instance) int { return strings.Compare(a.ID, b.ID) })
	if len(all) > page.Limit {
		return all[:page.Limit], true, nil
	}
	return all, false, nil
}

// ListInstanceSummaries implements Backend: ListInstances with every field
// the summary view does not show zeroed, as the stores do.
func (f *fakeBackend) ListInstanceSummaries(ctx context.Context, tenantID string, page store.Page) ([]*model.Instance, bool, error) {
	list, more, err := f.ListInstances(ctx, tenantID, page)
	for i, in := range list {
		list[i] = &model.Instance{ID: in.ID, TenantID: in.TenantID, Name: in.Name, Status: in.Status,
			FlavorID: in.FlavorID, VolumeSize: in.VolumeSize, Datastore: in.Datastore,
			DatastoreVersion: in.DatastoreVersion, Address: in.Address}
	}
	f.mu.Lock()
	f.summaryCalls++
	f.mu.Unlock()
	return list, more, err
}

// RenameInstance implements Backend.
func (f *fakeBackend) RenameInstance(ctx context.Context, tenantID, id, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.lookup(tenantID, id)
	if err != nil {
		return err
	}
	in.Name = name
	return nil
}

// SetInstanceAccess implements Backend.
func (f *fakeBackend) SetInstanceAccess(ctx context.Context, tenantID, id string, cidrs []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failure("SetInstanceAccess"); err != nil {
		return err
	}
	in, err := f.lookup(tenantID, id)
	if err != nil {
		return err
	}
	in.AllowedCIDRs = cidrs
	return nil
}

// DeleteInstance implements Backend.
func (f *fakeBackend) DeleteInstance(ctx context.Context, tenantID, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failure("DeleteInstance"); err != nil {
		return err
	}
	in, err := f.lookup(tenantID, id)
	if err != nil {
		return err
	}
	if in.Status == model.StatusBuild {
		return fault.Errorf(fault.Unprocessable, "fake", "Instance %s is not ready. (Status is BUILD).", id)
	}
	delete(f.instances, id)
	return nil
}

// RestartInstance implements Backend.
func (f *fakeBackend) RestartInstance(ctx context.Context, tenantID, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failure("RestartInstance"); err != nil {
		return err
	}
	in, err := f.lookup(tenantID, id)
	if err != nil {
		return err
	}
	if !in.Status.ActionAllowed() {
		return fault.Errorf(fault.Unprocessable, "fake",
			"Instance %s is not currently available for an action to be performed (instance status was %s).", id, in.Status)
	}
	in.Status = model.StatusReboot
	f.restarted = append(f.restarted, id)
	return nil
}

// Ready implements Backend.
func (f *fakeBackend) Ready(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readyErr
}

// fakeAuth knows a fixed set of tokens.
type fakeAuth map[string]*identity.Principal

// Authenticate implements Authenticator.
func (a fakeAuth) Authenticate(ctx context.Context, token string) (*identity.Principal, error) {
	if p, ok := a[token]; ok {
		return p, nil
	}
	return nil, fault.New(fault.Unauthorized, "fake.auth", "")
}

const (
	tenant     = "TENANT"
	token      = "TOKEN"
	otherToken = "OTHER-TOKEN"
	adminToken = "ADMIN-TOKEN"
)

func newFakeAuth() fakeAuth {
	return fakeAuth{
		token:      {UserID: "u1", ProjectID: tenant, Roles: []string{model.RoleMember}},
		otherToken: {UserID: "u2", ProjectID: "other", Roles: []string{model.RoleMember}},
		adminToken: {UserID: "u3", ProjectID: "admin-project", Roles: []string{model.RoleAdmin}},
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is a Server over a fake backend, with its log captured.
type harness struct {
	t     *testing.T
	srv   *Server
	fb    *fakeBackend
	clock *fakeClock
	logs  *syncBuffer
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, clock: &fakeClock{t: time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)}, logs: &syncBuffer{}}
	h.fb = newFakeBackend(h.clock.Now)
	cfg.Logger = slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.Now == nil {
		cfg.Now = h.clock.Now
	}
	h.srv = New(cfg, h.fb, newFakeAuth())
	return h
}

// response is a recorded answer.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends one request through the handler. hdr pairs are header name,
// value; an X-Auth-Token of TOKEN is added unless hdr sets one ("" = none).
func (h *harness) do(method, path, body string, hdr ...string) response {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://db.example.com"+path, rd)
	req.Header.Set("X-Auth-Token", token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
}

// ListReplicas implements Backend: the instances whose ReplicaOf is id.
func (f *fakeBackend) ListReplicas(ctx context.Context, tenantID, id string) ([]*model.Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(tenantID, id); err != nil {
		return nil, err
	}
	var out []*model.Instance
	for _, in := range f.instances {
		if in.ReplicaOf == id {
			c := *in
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *model.Instance) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// DetachReplica implements Backend: the replica is standalone at once.
func (f *fakeBackend) DetachReplica(ctx context.Context, tenantID, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.lookup(tenantID, id)
	if err != nil {
		return err
	}
	if in.ReplicaOf == "" {
		return fault.Errorf(fault.Invalid, "fake", "Instance %s is not a replica.", id)
	}
	in.ReplicaOf = ""
	return nil
}

// PromoteReplica implements Backend: roles swap at once.
func (f *fakeBackend) PromoteReplica(ctx context.Context, tenantID, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, err := f.lookup(tenantID, id)
	if err != nil {
		return err
	}
	if in.ReplicaOf == "" {
		return fault.Errorf(fault.Invalid, "fake", "Instance %s is not a replica.", id)
	}
	src := in.ReplicaOf
	for _, o := range f.instances {
		if o.ReplicaOf == src || o.ID == src {
			o.ReplicaOf = id
		}
	}
	in.ReplicaOf = ""
	return nil
}

// EjectReplicaSource implements Backend: refused unless the source has
// replicas (the fake's engines always answer).
func (f *fakeBackend) EjectReplicaSource(ctx context.Context, tenantID, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(tenantID, id); err != nil {
		return err
	}
	for _, o := range f.instances {
		if o.ReplicaOf == id {
			return fault.Errorf(fault.Invalid, "fake", "Replica Source %s cannot be ejected as it has a current heartbeat.", id)
		}
	}
	return fault.Errorf(fault.Invalid, "fake", "Instance %s is not a replica source.", id)
}
