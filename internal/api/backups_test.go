package api

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/service"
)

// backupFake is fakeBackend with BackupBackend: backups kept in memory,
// newest first, with the reference's refusals.
type backupFake struct {
	*fakeBackend
	bmu       sync.Mutex
	backups   []*model.Backup // newest first
	schedules map[string]*model.Schedule
	quota     int
}

var _ BackupBackend = (*backupFake)(nil)

func (f *backupFake) CreateBackup(_ context.Context, tenantID string, req service.CreateBackupRequest) (*model.Backup, error) {
	f.bmu.Lock()
	defer f.bmu.Unlock()
	f.fakeBackend.mu.Lock()
	in, ok := f.instances[req.InstanceID]
	f.fakeBackend.mu.Unlock()
	if !ok || in.TenantID != tenantID {
		return nil, notFound(req.InstanceID)
	}
	if in.Status != model.StatusActive {
		return nil, fault.Errorf(fault.Unprocessable, "fake", "Instance %s is not ready.", in.ID)
	}
	if len(f.backups) >= f.quota {
		return nil, fault.New(fault.OverLimit, "fake", "Quota exceeded for resources: ['backups'].")
	}
	now := f.now()
	id := uuid.NewString()
	b := &model.Backup{ID: id, TenantID: tenantID, Name: req.Name, Description: req.Description,
		InstanceID: in.ID, ParentID: req.ParentID, Status: model.BackupCompleted, Size: 3 << 28,
		Location: "file:///srv/hoard-data/backups/" + id + ".xbstream.gz", Datastore: "mysql", DatastoreVersion: "10.11", DatastoreVersionID: "v-1011",
		VolumeSize: 1, Type: "InnoBackupEx", Created: now, Updated: now}
	if req.ParentID != "" {
		b.Type = "InnoBackupExIncremental"
	}
	f.backups = append([]*model.Backup{b}, f.backups...)
	nb := *b
	nb.Status, nb.Size, nb.Location = model.BackupNew, 0, ""
	return &nb, nil
}

func (f *backupFake) GetBackup(_ context.Context, tenantID, id string) (*model.Backup, error) {
	f.bmu.Lock()
	defer f.bmu.Unlock()
	for _, b := range f.backups {
		if b.ID == id && b.TenantID == tenantID {
			return b, nil
		}
	}
	return nil, notFound(id)
}

func (f *backupFake) page(tenantID, instanceID, ds string, offset, limit int) ([]*model.Backup, bool, error) {
	f.bmu.Lock()
	defer f.bmu.Unlock()
	var all []*model.Backup
	for _, b := range f.backups {
		if b.TenantID == tenantID && (instanceID == "" || b.InstanceID == instanceID) && (ds == "" || b.Datastore == ds || b.DatastoreVersionID == ds) {
			all = append(all, b)
		}
	}
	if offset >= len(all) {
		return nil, false, nil
	}
	all = all[offset:]
	if len(all) > limit {
		return all[:limit], true, nil
	}
	return all, false, nil
}

func (f *backupFake) ListBackups(_ context.Context, tenantID, ds string, offset, limit int) ([]*model.Backup, bool, error) {
	return f.page(tenantID, "", ds, offset, limit)
}

func (f *backupFake) ListInstanceBackups(_ context.Context, tenantID, id string, offset, limit int) ([]*model.Backup, bool, error) {
	f.fakeBackend.mu.Lock()
	in, ok := f.instances[id]
	f.fakeBackend.mu.Unlock()
	if !ok || in.TenantID != tenantID {
		return nil, false, notFound(id)
	}
	return f.page(tenantID, id, "", offset, limit)
}

func (f *backupFake) DeleteBackup(_ context.Context, tenantID, id string) error {
	f.bmu.Lock()
	defer f.bmu.Unlock()
	i := slices.IndexFunc(f.backups, func(b *model.Backup) bool { return b.ID == id && b.TenantID == tenantID })
	if i < 0 {
		return notFound(id)
	}
	f.backups = slices.Delete(f.backups, i, i+1)
	return nil
}

func (f *backupFake) CreateSchedule(_ context.Context, tenantID string, req service.ScheduleRequest) (*model.Schedule, error) {
	f.bmu.Lock()
	defer f.bmu.Unlock()
	sc := &model.Schedule{ID: fmt.Sprintf("sc-%d", len(f.schedules)+1), TenantID: tenantID, InstanceID: req.InstanceID,
		DayOfWeek: *req.DayOfWeek, Hour: *req.Hour, Minute: *req.Minute, Retention: 2, NextRun: f.now(), Created: f.now(), Updated: f.now()}
	if req.Retention != nil {
		sc.Retention = *req.Retention
	}
	f.schedules[sc.ID] = sc
	return sc, nil
}

func (f *backupFake) GetSchedule(_ context.Context, tenantID, id string) (*model.Schedule, error) {
	f.bmu.Lock()
	defer f.bmu.Unlock()
	if sc, ok := f.schedules[id]; ok && sc.TenantID == tenantID {
		return sc, nil
	}
	return nil, notFound(id)
}

func (f *backupFake) ListSchedules(_ context.Context, tenantID string) ([]*model.Schedule, error) {
	f.bmu.Lock()
	defer f.bmu.Unlock()
	var out []*model.Schedule
	for _, sc := range f.schedules {
		if sc.TenantID == tenantID {
			out = append(out, sc)
		}
	}
	return out, nil
}

func (f *backupFake) UpdateSchedule(ctx context.Context, tenantID, id string, req service.ScheduleRequest) (*model.Schedule, error) {
	sc, err := f.GetSchedule(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	f.bmu.Lock()
	defer f.bmu.Unlock()
	if req.Hour != nil {
		sc.Hour = *req.Hour
	}
	return sc, nil
}

func (f *backupFake) DeleteSchedule(ctx context.Context, tenantID, id string) error {
	if _, err := f.GetSchedule(ctx, tenantID, id); err != nil {
		return err
	}
	f.bmu.Lock()
	defer f.bmu.Unlock()
	delete(f.schedules, id)
	return nil
}

func newBackupHarness(t *testing.T, quota int) (*harness, *backupFake) {
	h := newHarness(t, Config{})
	bf := &backupFake{fakeBackend: h.fb, schedules: map[string]*model.Schedule{}, quota: quota}
	h.srv = New(Config{Now: h.clock.Now}, bf, newFakeAuth())
	return h, bf
}

func TestBackupRoutes(t *testing.T) {
	h, _ := newBackupHarness(t, 3)
	in := h.fb.add(tenant, "db", model.StatusActive)
	other := h.fb.add("OTHER", "theirs", model.StatusActive)
	busy := h.fb.add(tenant, "busy", model.StatusReboot)
	create := func(name string) string {
		return fmt.Sprintf(`{"backup":{"name":%q,"instance":%q,"description":"d"}}`, name, in.ID)
	}
	r := h.do("POST", "/v1.0/TENANT/backups", create("one"))
	if r.status != 202 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	var created struct{ Backup map[string]any }
	if err := json.Unmarshal([]byte(r.body), &created); err != nil {
		t.Fatal(err)
	}
	if created.Backup["status"] != "NEW" || created.Backup["size"] != nil || created.Backup["locationRef"] != nil ||
		created.Backup["instance_id"] != in.ID || created.Backup["description"] != "d" {
		t.Errorf("created backup %s", r.body)
	}
	id := created.Backup["id"].(string)
	r = h.do("GET", "/v1.0/TENANT/backups/"+id, "")
	var shown struct{ Backup map[string]any }
	if err := json.Unmarshal([]byte(r.body), &shown); err != nil || r.status != 200 {
		t.Fatalf("show = %d %s", r.status, r.body)
	}
	ds, _ := shown.Backup["datastore"].(map[string]any)
	if shown.Backup["size"] != 0.75 || shown.Backup["locationRef"] != "local:"+id+".xbstream.gz" || ds["type"] != "mysql" || ds["version_id"] != "v-1011" ||
		strings.HasSuffix(shown.Backup["created"].(string), "Z") || shown.Backup["parent_id"] != nil {
		t.Errorf("shown backup %s", r.body)
	}
	for _, n := range []string{"two", "three"} {
		if r := h.do("POST", "/v1.0/TENANT/backups", create(n)); r.status != 202 {
			t.Fatalf("create %s = %d %s", n, r.status, r.body)
		}
	}
	steps := []struct {
		method, path, body string
		want               int
		contains           string
	}{
		{"POST", "/v1.0/TENANT/backups", create("four"), 413, "['backups']"},
		{"POST", "/v1.0/TENANT/backups", fmt.Sprintf(`{"backup":{"name":"x","instance":%q}}`, busy.ID), 422, ""},
		{"POST", "/v1.0/TENANT/backups", fmt.Sprintf(`{"backup":{"name":"x","instance":%q}}`, other.ID), 404, ""},
		{"POST", "/v1.0/TENANT/backups", `{"backup":{"name":"x","instance":"not-a-uuid"}}`, 400, "UUID"},
		{"POST", "/v1.0/TENANT/backups", `{"backup":{"instance":"` + in.ID + `"}}`, 400, "'name' is a required property"},
		{"POST", "/v1.0/TENANT/backups", `{}`, 400, ""},
		{"GET", "/v1.0/TENANT/backups?limit=2", "", 200, `"backups_links"`},
		{"GET", "/v1.0/TENANT/backups?limit=2&marker=2", "", 200, `"name":"one"`},
		{"GET", "/v1.0/TENANT/backups?marker=x", "", 400, "offset"},
		{"GET", "/v1.0/TENANT/backups?datastore=postgresql", "", 200, `{"backups":[]}`},
		{"GET", "/v1.0/TENANT/instances/" + in.ID + "/backups", "", 200, `"name":"three"`},
		{"GET", "/v1.0/TENANT/instances/" + other.ID + "/backups", "", 404, ""},
		{"GET", "/v1.0/TENANT/backups/nope", "", 404, ""},
		{"DELETE", "/v1.0/TENANT/backups/" + id, "", 202, ""},
		{"DELETE", "/v1.0/TENANT/backups/" + id, "", 404, ""},
		{"PUT", "/v1.0/TENANT/backups/" + id, "{}", 405, ""},
	}
	for _, st := range steps {
		r := h.do(st.method, st.path, st.body)
		if r.status != st.want || !strings.Contains(r.body, st.contains) {
			t.Errorf("%s %s = %d %s, want %d containing %q", st.method, st.path, r.status, r.body, st.want, st.contains)
		}
	}
	r = h.do("GET", "/v1.0/TENANT/backups?limit=1", "")
	if !strings.Contains(r.body, `"rel":"next"`) || !strings.Contains(r.body, "marker=1") {
		t.Errorf("first page links: %s", r.body)
	}
}

func TestScheduleRoutes(t *testing.T) {
	h, _ := newBackupHarness(t, 10)
	in := h.fb.add(tenant, "db", model.StatusActive)
	r := h.do("POST", "/v1.0/TENANT/schedules", fmt.Sprintf(`{"schedule":{"action":"backup","day_of_week":0,"hour":"3","minute":30,"instance_id":%q,"full_backup_retention":4}}`, in.ID))
	if r.status != 202 || !strings.Contains(r.body, `"full_backup_retention":4`) || !strings.Contains(r.body, `"day_of_month":null`) {
		t.Fatalf("create schedule = %d %s", r.status, r.body)
	}
	for _, st := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/v1.0/TENANT/schedules", `{"schedule":{"action":"backup","day_of_week":8,"hour":3,"minute":0,"instance_id":"` + in.ID + `"}}`, 400},
		{"POST", "/v1.0/TENANT/schedules", `{"schedule":{"action":"restore","day_of_week":1,"hour":3,"minute":0,"instance_id":"` + in.ID + `"}}`, 400},
		{"POST", "/v1.0/TENANT/schedules", `{"schedule":{"action":"backup","hour":3,"minute":0,"instance_id":"` + in.ID + `"}}`, 400},
		{"GET", "/v1.0/TENANT/schedules", "", 200},
		{"GET", "/v1.0/TENANT/schedules/sc-1", "", 200},
		{"PUT", "/v1.0/TENANT/schedules/sc-1", `{"schedule":{"hour":5,"run_now":"true"}}`, 202},
		{"PUT", "/v1.0/TENANT/schedules/sc-1", `{"schedule":{"minute":99}}`, 400},
		{"DELETE", "/v1.0/TENANT/schedules/sc-1", "", 202},
		{"GET", "/v1.0/TENANT/schedules/sc-1", "", 404},
	} {
		if r := h.do(st.method, st.path, st.body); r.status != st.want {
			t.Errorf("%s %s = %d %s, want %d", st.method, st.path, r.status, r.body, st.want)
		}
	}
}

func TestBackupsNotImplemented(t *testing.T) {
	h := newHarness(t, Config{})
	for _, p := range []string{"/v1.0/TENANT/backups", "/v1.0/TENANT/schedules"} {
		if r := h.do("GET", p, ""); r.status != 501 {
			t.Errorf("GET %s without BackupBackend = %d, want 501", p, r.status)
		}
	}
}

func TestRestorePointDecode(t *testing.T) {
	id := "a9832168-7541-4536-b8d9-a8a9b79cf1b4"
	req, err := decodeCreate([]byte(`{"instance":{"name":"r","flavorRef":1,"volume":{"size":2},"restorePoint":{"backupRef":"` + id + `"}}}`))
	if err != nil || req.RestoreBackupID != id {
		t.Errorf("decodeCreate(restorePoint) = %+v, %v", req, err)
	}
}

func FuzzDecodeBackupCreate(f *testing.F) {
	f.Add([]byte(`{"backup":{"name":"n","instance":"a9832168-7541-4536-b8d9-a8a9b79cf1b4","parent_id":"a9832168-7541-4536-b8d9-a8a9b79cf1b4","incremental":1}}`))
	f.Add([]byte(`{"backup":{"name":"","instance":5}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeBackupCreate(body)
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid {
				t.Fatalf("decodeBackupCreate error kind %v: %v", k, err)
			}
			return
		}
		if req.Name == "" || !isUUID(req.InstanceID) || (req.ParentID != "" && !isUUID(req.ParentID)) {
			t.Fatalf("decodeBackupCreate accepted %+v", req)
		}
	})
}

func FuzzDecodeSchedule(f *testing.F) {
	f.Add([]byte(`{"schedule":{"action":"backup","day_of_week":7,"hour":23,"minute":59,"instance_id":"a9832168-7541-4536-b8d9-a8a9b79cf1b4"}}`), true)
	f.Add([]byte(`{"schedule":{"run_now":"true","hour":"4"}}`), false)
	f.Fuzz(func(t *testing.T, body []byte, create bool) {
		req, err := decodeSchedule(body, create)
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid {
				t.Fatalf("decodeSchedule error kind %v: %v", k, err)
			}
			return
		}
		in := func(p *int, lo, hi int) bool { return p == nil || (*p >= lo && *p <= hi) }
		if !in(req.DayOfWeek, 0, 7) || !in(req.Hour, 0, 23) || !in(req.Minute, 0, 59) || !in(req.Retention, 1, 100) {
			t.Fatalf("decodeSchedule accepted out-of-range %+v", req)
		}
		if create && (req.DayOfWeek == nil || req.Hour == nil || req.Minute == nil || !isUUID(req.InstanceID)) {
			t.Fatalf("decodeSchedule(create) accepted %+v", req)
		}
	})
}

func FuzzDecodeRestorePoint(f *testing.F) {
	f.Add([]byte(`{"backupRef":"a9832168-7541-4536-b8d9-a8a9b79cf1b4"}`))
	f.Add([]byte(`{"backupRef":"http://x/backups/a9832168-7541-4536-b8d9-a8a9b79cf1b4"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var p problems
		ref := decodeRestorePoint(&p, raw)
		if ref != "" && (!isUUID(ref) || len(p) > 0) {
			t.Fatalf("decodeRestorePoint(%q) = %q with problems %v", raw, ref, p)
		}
	})
}

// TestBackupLocationRef: a tenant's locationRef says where the artifact is
// without the host's directories or the object store's endpoint; an admin
// sees the full location.
func TestBackupLocationRef(t *testing.T) {
	h, bf := newBackupHarness(t, 5)
	in := h.fb.add(tenant, "db", model.StatusActive)
	r := h.do("POST", "/v1.0/TENANT/backups", fmt.Sprintf(`{"backup":{"name":"b","instance":%q}}`, in.ID))
	if r.status != 202 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	bf.bmu.Lock()
	local := bf.backups[0]
	s3 := *local
	s3.ID, s3.Location = uuid.NewString(), "http://10.0.0.7:9000/hoard-backups/prod/"+local.ID+".xbstream.gz"
	bf.backups = append([]*model.Backup{&s3}, bf.backups...)
	bf.bmu.Unlock()
	key := local.ID + ".xbstream.gz"
	tests := []struct {
		name, token, path string
		want              []string // the locationRefs, in order
	}{
		{"tenant show", token, "/backups/" + local.ID, []string{"local:" + key}},
		{"tenant show s3", token, "/backups/" + s3.ID, []string{"s3://hoard-backups/prod/" + key}},
		{"tenant list", token, "/backups", []string{"s3://hoard-backups/prod/" + key, "local:" + key}},
		{"tenant instance list", token, "/instances/" + in.ID + "/backups", []string{"s3://hoard-backups/prod/" + key, "local:" + key}},
		{"admin show", adminToken, "/backups/" + local.ID, []string{local.Location}},
		{"admin list", adminToken, "/backups", []string{s3.Location, local.Location}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("GET", "/v1.0/TENANT"+tt.path, "", "X-Auth-Token", tt.token)
			if r.status != 200 {
				t.Fatalf("GET %s = %d %s", tt.path, r.status, r.body)
			}
			var body struct {
				Backup  *backupView
				Backups []backupView
			}
			if err := json.Unmarshal([]byte(r.body), &body); err != nil {
				t.Fatal(err)
			}
			if body.Backup != nil {
				body.Backups = append(body.Backups, *body.Backup)
			}
			var got []string
			for _, b := range body.Backups {
				if b.LocationRef != nil {
					got = append(got, *b.LocationRef)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GET %s locationRefs (-want +got):\n%s", tt.path, diff)
			}
			if tt.token == token && (strings.Contains(r.body, "/srv/") || strings.Contains(r.body, "10.0.0.7")) {
				t.Errorf("GET %s shows the host's layout to a tenant: %s", tt.path, r.body)
			}
		})
	}
}

// TestBackupType: a backup's type is the label its backend recorded for
// its artifact's format, not InnoBackupEx for every engine.
func TestBackupType(t *testing.T) {
	tests := []struct {
		name string
		b    model.Backup
		want string
	}{
		{"mariadb full", model.Backup{Type: "InnoBackupEx"}, "InnoBackupEx"},
		{"mariadb incremental", model.Backup{ParentID: "p", Type: "InnoBackupExIncremental"}, "InnoBackupExIncremental"},
		{"postgresql", model.Backup{Datastore: "postgresql", Type: "PgBaseBackup"}, "PgBaseBackup"},
		{"redis", model.Backup{Datastore: "redis", Type: "RedisBackup"}, "RedisBackup"},
		{"unlabelled", model.Backup{Datastore: "other"}, ""},
	}
	for _, tt := range tests {
		v := newBackupView(&tt.b, false)
		if v.Type != tt.want {
			t.Errorf("%s: type %q, want %q", tt.name, v.Type, tt.want)
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`"type":%q`, tt.want); !strings.Contains(string(j), want) {
			t.Errorf("%s: %s lacks %s", tt.name, j, want)
		}
	}

	h, _ := newBackupHarness(t, 5)
	in := h.fb.add(tenant, "db", model.StatusActive)
	create := func(body string) string {
		t.Helper()
		r := h.do("POST", "/v1.0/TENANT/backups", body)
		var created struct{ Backup map[string]any }
		if err := json.Unmarshal([]byte(r.body), &created); err != nil || r.status != 202 {
			t.Fatalf("create = %d %s", r.status, r.body)
		}
		return created.Backup["id"].(string)
	}
	full := create(fmt.Sprintf(`{"backup":{"name":"full","instance":%q}}`, in.ID))
	inc := create(fmt.Sprintf(`{"backup":{"name":"inc","instance":%q,"parent_id":%q}}`, in.ID, full))
	for id, want := range map[string]string{full: "InnoBackupEx", inc: "InnoBackupExIncremental"} {
		r := h.do("GET", "/v1.0/TENANT/backups/"+id, "")
		var shown struct{ Backup map[string]any }
		if err := json.Unmarshal([]byte(r.body), &shown); err != nil || r.status != 200 {
			t.Fatalf("show = %d %s", r.status, r.body)
		}
		if shown.Backup["type"] != want {
			t.Errorf("GET backup %s: type %v, want %s", shown.Backup["name"], shown.Backup["type"], want)
		}
	}
}
