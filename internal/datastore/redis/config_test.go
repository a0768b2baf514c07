package redis

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/datastore"
)

func TestConfigLines(t *testing.T) {
	got, err := configLines(map[string]string{"timeout": "300", "lazyfree-lazy-expire": "true", "maxmemory-policy": "ALLKEYS-LRU", "notify-keyspace-events": ""})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"lazyfree-lazy-expire yes", "maxmemory-policy allkeys-lru", `notify-keyspace-events ""`, "timeout 300"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("configLines mismatch (-want +got):\n%s", d)
	}
	for _, bad := range []map[string]string{
		{"dir": "/tmp"}, {"requirepass": "x"}, {"maxmemory": "1"}, {"timeout": "1.5"}, {"hz": "yes"},
		{"maxmemory-policy": "chaos"}, {"notify-keyspace-events": "K$"}, {"dynamic-hz": "yes"},
	} {
		if _, err := configLines(bad); err == nil {
			t.Errorf("configLines(%v) = nil error", bad)
		}
	}
}

func FuzzConfigLines(f *testing.F) {
	f.Add("timeout", "300")
	f.Add("notify-keyspace-events", "KEA")
	f.Fuzz(func(t *testing.T, k, v string) {
		lines, err := configLines(map[string]string{k: v})
		if err != nil {
			return
		}
		if len(lines) != 1 || strings.ContainsAny(lines[0], "\n\r\\'") || len(strings.Fields(lines[0])) != 2 {
			t.Errorf("configLines(%q, %q) = %q", k, v, lines)
		}
	})
}

func TestRenderGroup(t *testing.T) {
	spec := datastore.Spec{DataDir: "/i/data", RunDir: "/i/run", LogDir: "/i/log", ConfDir: "/i/conf", Address: "127.0.0.1", Port: 6379, RAMMB: 512,
		Config: map[string]string{"maxmemory-policy": "allkeys-lfu"}}
	files, err := New(Config{}).Process().Render(spec)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(files[0].Content)
	if i, j := strings.Index(conf, "maxmemory-policy noeviction"), strings.Index(conf, "maxmemory-policy allkeys-lfu"); i < 0 || j < i {
		t.Errorf("the group's maxmemory-policy does not follow hoard's:\n%s", conf)
	}
	spec.Config = map[string]string{"dir": "/etc"}
	if _, err := New(Config{}).Process().Render(spec); err == nil {
		t.Error("Render with dir in the group = nil error")
	}
}

func TestParseInfo(t *testing.T) {
	got := ParseInfo("# Persistence\r\nrdb_bgsave_in_progress:0\r\nrdb_saves:3\r\nrdb_last_bgsave_status:ok\r\n\r\n")
	want := map[string]string{"rdb_bgsave_in_progress": "0", "rdb_saves": "3", "rdb_last_bgsave_status": "ok"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ParseInfo mismatch (-want +got):\n%s", d)
	}
}

func FuzzParseInfo(f *testing.F) {
	f.Add("# Persistence\r\nrdb_saves:1\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		for k := range ParseInfo(s) {
			if strings.ContainsAny(k, "\r\n") {
				t.Errorf("key %q holds a line break", k)
			}
		}
	})
}

func TestDefaults(t *testing.T) {
	d := New(Config{}).Defaults(datastore.Spec{Port: 6379, RAMMB: 1024})
	if d["maxmemory"] != "536870912" || d["maxmemory-policy"] != "noeviction" || d["appendfsync"] != "everysec" {
		t.Errorf("Defaults = %v", d)
	}
}
