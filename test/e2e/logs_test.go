package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/databases"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/users"
)

// guestLog is Trove's log object as a client reads it.
type guestLog struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	Published string `json:"published"`
	Pending   string `json:"pending"`
	Container string `json:"container"`
	Prefix    string `json:"prefix"`
	Metafile  string `json:"metafile"`
}

func listLogs(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, id string) map[string]guestLog {
	t.Helper()
	var body struct {
		Logs []guestLog `json:"logs"`
	}
	if _, err := sc.Get(ctx, sc.ServiceURL("instances", id, "log"), &body, nil); err != nil {
		t.Fatalf("GET log: %v", err)
	}
	out := map[string]guestLog{}
	for _, l := range body.Logs {
		out[l.Name] = l
	}
	return out
}

// logAction POSTs body and returns the log, or the error (code wantCode
// expected).
func logAction(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, id string, body map[string]any, wantCode int) guestLog {
	t.Helper()
	var out struct {
		Log guestLog `json:"log"`
	}
	_, err := sc.Post(ctx, sc.ServiceURL("instances", id, "log"), body, &out, &gophercloud.RequestOpts{OkCodes: []int{200}})
	switch {
	case wantCode == 200 && err != nil:
		t.Fatalf("POST log %v: %v", body, err)
	case wantCode != 200 && !gophercloud.ResponseCodeIs(err, wantCode):
		t.Fatalf("POST log %v = %v, want %d", body, err, wantCode)
	}
	return out.Log
}

// published reads what is published of a log as troveclient's "log
// save" does: a listing of its container by prefix in the catalog's
// object-store (hoard's Swift view), then each part (HEAD gives its line
// count).
func published(t *testing.T, sc *gophercloud.ServiceClient, l guestLog) string {
	t.Helper()
	get := func(method, u string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Auth-Token", sc.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s %s = %d %s, %v", method, u, resp.StatusCode, b, err)
		}
		return resp, b
	}
	_, b := get(http.MethodGet, sc.ServiceURL("swift", l.Container)+"?format=json&prefix="+url.QueryEscape(l.Prefix))
	var parts []struct {
		Name  string `json:"name"`
		Bytes int64  `json:"bytes"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		t.Fatalf("listing %s: %v", b, err)
	}
	var all strings.Builder
	var size int64
	for _, p := range parts {
		if !strings.HasPrefix(p.Name, l.Prefix) {
			t.Errorf("part %s outside prefix %s", p.Name, l.Prefix)
		}
		u := sc.ServiceURL("swift", l.Container) + "/" + p.Name
		head, _ := get(http.MethodHead, u)
		_, part := get(http.MethodGet, u)
		if n, err := strconv.Atoi(head.Header.Get("X-Object-Meta-Lines")); err != nil || n != strings.Count(string(part), "\n") {
			t.Errorf("part %s: X-Object-Meta-Lines %q, %d lines", p.Name, head.Header.Get("X-Object-Meta-Lines"), strings.Count(string(part), "\n"))
		}
		size += int64(len(part))
		all.Write(part)
	}
	if strconv.FormatInt(size, 10) != l.Published {
		t.Errorf("the parts of %s hold %d bytes, the API says %s published", l.Name, size, l.Published)
	}
	return all.String()
}

// waitLog polls a log until cond holds.
func waitLog(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, id, name string, cond func(guestLog) bool) guestLog {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l := logAction(ctx, t, sc, id, map[string]any{"name": name}, 200)
		if cond(l) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("log %s stays %+v", name, l)
		}
		pollPause(100 * time.Millisecond)
	}
}

// mysqlOpts creates a MariaDB instance with the database and user the
// other engines' cases have.
var mysqlOpts = instances.CreateOpts{
	FlavorRef: "1", Size: 1,
	Databases: databases.BatchCreateOpts{{Name: "shop"}},
	Users: users.BatchCreateOpts{{Name: "app", Password: "app-pw-123",
		Databases: databases.BatchCreateOpts{{Name: "shop"}}}},
	Datastore: &instances.DatastoreOpts{Type: "mysql"},
}

func pendingBytes(l guestLog) bool { n, _ := strconv.Atoi(l.Pending); return n > 0 }

// TestGuestLogsEngines drives the guest log API on real engines: the logs
// each engine lists, a USER log enabled (at once on MariaDB, through
// RESTART_REQUIRED and a restart on PostgreSQL), a statement of the test
// found in what is published, discard and disable, and the refusals.
func TestGuestLogsEngines(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	killInstanceProcs(t, h)
	sc := h.client(ctx)
	cases := []struct {
		datastore string
		want      map[string]string // log → type
		user      string            // the USER log the test enables ("" none)
		restart   bool              // enabling it needs a restart
		sys       string            // a SYS log
		write     func(t *testing.T, addr, marker string)
	}{
		{
			datastore: "mysql",
			want:      map[string]string{"general": "USER", "slow_query": "USER", "error": "SYS"},
			user:      "general", sys: "error",
			write: func(t *testing.T, addr, marker string) {
				db := openDB(t, addr, "app", "app-pw-123", "shop")
				if _, err := db.Exec("SELECT '" + marker + "'"); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			datastore: "postgresql",
			want:      map[string]string{"general": "USER", "server": "SYS"},
			user:      "general", restart: true, sys: "server",
			write: func(t *testing.T, addr, marker string) {
				c := pgConnect(t, addr, "app", "app-pw-123", "shop")
				if _, err := c.Exec(context.Background(), "SELECT '"+marker+"'"); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			datastore: "redis",
			want:      map[string]string{"server": "SYS"},
			sys:       "server",
		},
	}
	for _, tc := range cases {
		t.Run(tc.datastore, func(t *testing.T) {
			t.Parallel()
			opts := mysqlOpts
			if tc.datastore != "mysql" {
				opts = engineOpts(t, tc.datastore, "")
			}
			opts.Name = "logs-" + tc.datastore
			inst, err := instances.Create(ctx, sc, opts).Extract()
			if err != nil {
				t.Fatal(err)
			}
			inst = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
			id, addr := inst.ID, inst.IP[0]
			t.Cleanup(func() { _ = instances.Delete(ctx, sc, id).ExtractErr() })

			logs := listLogs(ctx, t, sc, id)
			if len(logs) != len(tc.want) {
				t.Errorf("logs = %v, want %v", logs, tc.want)
			}
			for name, typ := range tc.want {
				l := logs[name]
				if l.Type != typ || l.Metafile == "" {
					t.Errorf("log %s = %+v, want type %s", name, l, typ)
				}
				if typ == "USER" && l.Status != "Disabled" {
					t.Errorf("log %s status %s before enable, want Disabled", name, l.Status)
				}
			}
			logAction(ctx, t, sc, id, map[string]any{"name": tc.sys, "enable": 1}, 400)
			logAction(ctx, t, sc, id, map[string]any{"name": tc.sys, "enable": 1, "disable": 1}, 400)
			logAction(ctx, t, sc, id, map[string]any{"name": "no-such-log"}, 404)

			// The SYS log holds the engine's start; publish it.
			sl := waitLog(ctx, t, sc, id, tc.sys, pendingBytes)
			sl = logAction(ctx, t, sc, id, map[string]any{"name": tc.sys, "publish": 1}, 200)
			if sl.Status != "Published" && sl.Status != "Partial" || sl.Container != "database_logs" || published(t, sc, sl) == "" {
				t.Errorf("publish %s = %+v, want something published", tc.sys, sl)
			}
			sl = logAction(ctx, t, sc, id, map[string]any{"name": tc.sys, "discard": 1}, 200)
			if sl.Published != "0" || sl.Container != "None" {
				t.Errorf("discard %s = %+v, want nothing published", tc.sys, sl)
			}
			if tc.user == "" {
				return
			}

			l := logAction(ctx, t, sc, id, map[string]any{"name": tc.user, "enable": 1}, 200)
			got, err := instances.Get(ctx, sc, id).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if tc.restart {
				if l.Status != "Restart_Required" || got.Status != "RESTART_REQUIRED" {
					t.Fatalf("enable %s = %s, instance %s; want Restart_Required, RESTART_REQUIRED", tc.user, l.Status, got.Status)
				}
				if err := instances.Restart(ctx, sc, id).ExtractErr(); err != nil {
					t.Fatal(err)
				}
				waitStatus(ctx, t, sc, id, "ACTIVE", activeTimeout)
			} else if l.Status != "Enabled" && l.Status != "Ready" || got.Status != "ACTIVE" {
				t.Fatalf("enable %s = %s, instance %s; want Enabled, ACTIVE", tc.user, l.Status, got.Status)
			}
			marker := "hoard-log-marker-" + tc.datastore
			tc.write(t, addr, marker)
			waitLog(ctx, t, sc, id, tc.user, pendingBytes)
			l = logAction(ctx, t, sc, id, map[string]any{"name": tc.user, "publish": 1}, 200)
			if l.Status != "Published" && l.Status != "Partial" {
				t.Errorf("publish %s = %+v, want Published", tc.user, l)
			}
			if text := published(t, sc, l); !strings.Contains(text, marker) {
				t.Errorf("published %s lacks %q:\n%s", tc.user, marker, text)
			}

			l = logAction(ctx, t, sc, id, map[string]any{"name": tc.user, "disable": 1}, 200)
			if l.Status != "Disabled" && l.Status != "Restart_Required" {
				t.Errorf("disable %s = %+v, want Disabled", tc.user, l)
			}
		})
	}
}
