package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/model"
)

// TestCommands runs the client commands against internal/api with a fake
// backend and the real identity service.
func TestCommands(t *testing.T) {
	s := newTestServer(t)
	vars := s.env()
	run := func(args ...string) result {
		t.Helper()
		return runCLI(t, vars, "", args...)
	}
	mustRun := func(args ...string) result {
		t.Helper()
		r := run(args...)
		if r.code != 0 {
			t.Fatalf("hoard %q = exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
		}
		return r
	}

	r := mustRun("login")
	if !strings.Contains(r.stdout, s.project) || !strings.Contains(r.stdout, "/v1.0/"+s.project+"/") {
		t.Errorf("login printed %q", r.stdout)
	}

	r = mustRun("flavor", "list", "-o", "json")
	var fl []flavorView
	if err := json.Unmarshal([]byte(r.stdout), &fl); err != nil || len(fl) != 2 || fl[0].ID != "1" || fl[1].RAM != 1024 {
		t.Errorf("flavor list -o json = %s (%v)", r.stdout, err)
	}
	r = mustRun("datastore", "list")
	if want := "NAME   DEFAULT  VERSIONS  ID\nmysql  10.11    10.11     ds-mysql\n"; r.stdout != want {
		t.Errorf("datastore list = %q, want %q", r.stdout, want)
	}

	// Create with --wait: progress on stderr, the ACTIVE instance on stdout.
	r = mustRun("instance", "create", "db1", "--flavor", "1", "--size", "1", "--databases", "shop",
		"--users", "app:app-pw-123", "--wait", "-o", "json")
	var in instanceView
	if err := json.Unmarshal([]byte(r.stdout), &in); err != nil || in.Status != "ACTIVE" || in.Name != "db1" ||
		in.Flavor != "1" || len(in.Addresses) != 1 || in.Created != "2024-05-06T07:08:09" {
		t.Errorf("instance create --wait = %s (%v)", r.stdout, err)
	}
	if !strings.Contains(r.stderr, "s  db1  BUILD\n") || !strings.Contains(r.stderr, "s  db1  ACTIVE\n") {
		t.Errorf("create progress = %q, want BUILD then ACTIVE with elapsed time and the name", r.stderr)
	}
	if strings.Contains(r.stderr+r.stdout, "app-pw-123") {
		t.Errorf("a password was echoed: %q %q", r.stdout, r.stderr)
	}
	req := s.fb.lastReq
	if len(req.Databases) != 1 || req.Databases[0].Name != "shop" || len(req.Users) != 1 || req.Users[0].Name != "app" ||
		string(req.Users[0].Password) != "app-pw-123" || len(req.Users[0].Databases) != 1 || req.Users[0].Databases[0] != "shop" {
		t.Errorf("server got %+v", req)
	}

	// A failed create: exit 1 with the instance's fault.
	s.fb.faultMsg = "engine did not start: disk full"
	r = run("instance", "create", "doomed", "--flavor", "1", "--size", "1", "--wait")
	if r.code != 1 || !strings.Contains(r.stderr, "went to ERROR: engine did not start: disk full") {
		t.Errorf("failing create --wait = %+v", r)
	}

	// Paginated list (page size 2): all three instances, in a table.
	s.fb.add(s.project, "db3", model.StatusActive)
	s.fb.add("other-project", "hidden", model.StatusActive)
	r = mustRun("instance", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(r.stdout, "db3") || strings.Contains(r.stdout, "hidden") {
		t.Errorf("instance list =\n%s", r.stdout)
	}

	// Show by name, restart by id with --wait, delete with --wait.
	r = mustRun("instance", "show", "db1")
	if !strings.Contains(r.stdout, "status             ACTIVE") || !strings.Contains(r.stdout, in.ID) {
		t.Errorf("instance show =\n%s", r.stdout)
	}
	r = mustRun("instance", "restart", in.ID, "--wait")
	if !strings.Contains(r.stderr, "REBOOT") || !strings.Contains(r.stdout, "ACTIVE") {
		t.Errorf("restart --wait = %+v", r)
	}
	r = mustRun("instance", "restart", "db1")
	if !strings.Contains(r.stdout, "restart of instance db1 ("+in.ID+") accepted") {
		t.Errorf("restart = %q", r.stdout)
	}
	r = mustRun("instance", "delete", "db1", "--wait")
	if !strings.Contains(r.stderr, "db1  DELETED") || !strings.Contains(r.stdout, "instance db1 ("+in.ID+") deleted") {
		t.Errorf("delete --wait = %+v", r)
	}

	// Not found: the API's fault, printed cleanly.
	r = run("instance", "show", "no-such")
	if r.code != 1 || !strings.Contains(r.stderr, "itemNotFound (HTTP 404)") {
		t.Errorf("show unknown = %+v", r)
	}
	// The fake backend has no backups (the API answers 501): a clean
	// fault, not a crash.
	r = run("backup", "list")
	if r.code != 1 || !strings.Contains(r.stderr, "notImplemented (HTTP 501)") {
		t.Errorf("backup list = %+v", r)
	}
}

// TestReplicaCommands checks instance create --replica-of (the source by
// name, replica_of its id) and its usage errors.
func TestReplicaCommands(t *testing.T) {
	s := newTestServer(t)
	vars := s.env()
	src := s.fb.add(s.project, "db1", model.StatusActive)
	if r := runCLI(t, vars, "", "instance", "create", "ro1", "--replica-of", "db1", "--flavor", "2"); r.code != 0 {
		t.Fatalf("instance create --replica-of = exit %d: %s", r.code, r.stderr)
	}
	if req := s.fb.lastReq; req.ReplicaOf != src.ID || req.FlavorRef != "2" || req.VolumeSize != 0 || req.Name != "ro1" {
		t.Errorf("instance create --replica-of sent %+v, want replica_of %s, flavor 2, no volume", req, src.ID)
	}
	if r := runCLI(t, vars, "", "instance", "create", "ro2", "--replica-of", "db1", "--databases", "x"); r.code != 2 {
		t.Errorf("instance create --replica-of --databases = exit %d, want 2 (usage)", r.code)
	}

	// show names a replica's source; promote sends the action.
	ro := s.fb.add(s.project, "ro9", model.StatusActive)
	s.fb.mu.Lock()
	s.fb.instances[ro.ID].ReplicaOf = src.ID
	s.fb.mu.Unlock()
	r := runCLI(t, vars, "", "instance", "show", "ro9", "-o", "json")
	var v instanceView
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.ReplicaOf != src.ID {
		t.Errorf("instance show of a replica = %s (%v), want replica_of %s", r.stdout, err, src.ID)
	}
	if r := runCLI(t, vars, "", "instance", "promote", "ro9"); r.code != 0 {
		t.Fatalf("instance promote = exit %d: %s", r.code, r.stderr)
	}
	if s.fb.promoted == nil || s.fb.promoted[0] != ro.ID {
		t.Errorf("promoted %v, want [%s]", s.fb.promoted, ro.ID)
	}
}
