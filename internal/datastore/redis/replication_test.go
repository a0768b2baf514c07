package redis

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// replicaConf renders testSpec with ReplicaOf = src and returns redis.conf.
func replicaConf(src *datastore.ReplicaSource) (string, error) {
	s := testSpec()
	s.ReplicaOf = src
	files, err := New(Config{}).Process().Render(s)
	if err != nil {
		return "", err
	}
	return string(files[0].Content), nil
}

func TestRenderReplica(t *testing.T) {
	src := func(addr string, port int, user, pw string) *datastore.ReplicaSource {
		return &datastore.ReplicaSource{Address: addr, Port: port, User: user, Password: datastore.Secret(pw)}
	}
	tests := []struct {
		name string
		src  *datastore.ReplicaSource
		want []string // lines, in order
		not  []string // substrings that must not appear
	}{
		{name: "none", src: nil, want: []string{"repl-diskless-sync-delay 0"},
			not: []string{"replicaof", "masteruser", "masterauth", "replica-read-only"}},
		{name: "ipv4", src: src("127.0.1.5", 6380, replUser, "s3cret-pw"), want: []string{
			"replicaof 127.0.1.5 6380", "masteruser os_replicator", `masterauth "s3cret-pw"`, "replica-read-only yes"}},
		{name: "ipv6", src: src("::1", 6379, replUser, "pw"), want: []string{"replicaof ::1 6379", `masterauth "pw"`}},
		{name: "ipv4-mapped", src: src("::ffff:10.0.0.7", 6379, replUser, "pw"), want: []string{"replicaof 10.0.0.7 6379"}},
		{name: "hostname", src: src("db-1.example.com", 16379, "repl.user", "pw"), want: []string{
			"replicaof db-1.example.com 16379", "masteruser repl.user"}},
		{name: "quoted password", src: src("10.0.0.1", 6379, replUser, `a "b" \c #d 'e'`), want: []string{
			`masterauth "a \"b\" \\c #d 'e'"`}},
		// The driver does not keep the password: the replica stays a
		// read-only replica, and StartReplica sets masterauth at runtime.
		{name: "no password", src: src("10.0.0.1", 6379, replUser, ""), want: []string{
			"replicaof 10.0.0.1 6379", "masteruser os_replicator", "replica-read-only yes"}, not: []string{"masterauth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf, err := replicaConf(tt.src)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			lines := strings.Split(conf, "\n")
			last := -1
			for _, w := range tt.want {
				i := slices.Index(lines, w)
				if i < 0 {
					t.Errorf("redis.conf lacks the line %q:\n%s", w, conf)
				} else if i < last {
					t.Errorf("line %q out of order:\n%s", w, conf)
				}
				last = max(last, i)
			}
			for _, n := range tt.not {
				if strings.Contains(conf, n) {
					t.Errorf("redis.conf has %q:\n%s", n, conf)
				}
			}
			if tt.src != nil && tt.src.Password != "" && strings.Count(conf, string(tt.src.Password)) > 1 {
				t.Errorf("the password appears more than once:\n%s", conf)
			}
		})
	}

	const pw = "Secret-Pw-9"
	bad := map[string]*datastore.ReplicaSource{
		"address with a blank":   src("10.0.0.1 6379", 6379, replUser, pw),
		"address with a newline": src("10.0.0.1\nmasterauth x", 6379, replUser, pw),
		"address with a zone":    src("fe80::1%eth0", 6379, replUser, pw),
		"empty address":          src("", 6379, replUser, pw),
		"address with a quote":   src(`h"ost`, 6379, replUser, pw),
		"label with a hyphen":    src("-db.example.com", 6379, replUser, pw),
		"port 0":                 src("10.0.0.1", 0, replUser, pw),
		"port 65536":             src("10.0.0.1", 65536, replUser, pw),
		"empty user":             src("10.0.0.1", 6379, "", pw),
		"user with a blank":      src("10.0.0.1", 6379, "os replicator", pw),
		"user with a newline":    src("10.0.0.1", 6379, "u\nmasterauth x", pw),
		"password with newline":  src("10.0.0.1", 6379, replUser, pw+"\nreplica-read-only no"),
		"password not ASCII":     src("10.0.0.1", 6379, replUser, pw+"é"),
		"password with blank":    src("10.0.0.1", 6379, replUser, " "+pw),
		"password too long":      src("10.0.0.1", 6379, replUser, strings.Repeat("p", 256)),
	}
	for name, s := range bad {
		conf, err := replicaConf(s)
		if !fault.Is(err, fault.Invalid) {
			t.Errorf("%s: Render = %v, want Invalid\n%s", name, err, conf)
			continue
		}
		if strings.Contains(err.Error(), pw) || strings.Contains(fault.Message(err), pw) {
			t.Errorf("%s: the error reveals the password: %v", name, err)
		}
	}
}

func TestRestrictACL(t *testing.T) {
	const in = "user app on sanitize-payload #aa ~* &* +@all -@admin\n" +
		"user default off resetchannels -@all\n" +
		"user os_admin on #bb ~* &* +@all\n" +
		"user os_replicator on #cc resetchannels -@all +ping +psync +replconf\n" +
		"user root on #dd ~* &* +@all -acl +acl|whoami \n" +
		"user on on #ee ~* &* +@all -@admin\n"
	const deny = " -config|get -config|set -replicaof -slaveof"
	want := "user app on sanitize-payload #aa ~* &* +@all -@admin" + deny + "\n" +
		"user default off resetchannels -@all\n" +
		"user os_admin on #bb ~* &* +@all\n" +
		"user os_replicator on #cc resetchannels -@all +ping +psync +replconf\n" +
		"user root on #dd ~* &* +@all -acl +acl|whoami" + deny + "\n" +
		"user on on #ee ~* &* +@all -@admin" + deny + "\n"
	out, changed := restrictACL([]byte(in))
	if !changed || string(out) != want {
		t.Fatalf("restrictACL = %v\n%s\nwant\n%s", changed, out, want)
	}
	if again, changed := restrictACL(out); changed || string(again) != want {
		t.Errorf("restrictACL again = %v\n%s", changed, again)
	}
	if out, changed := restrictACL(nil); changed || len(out) != 0 {
		t.Errorf("restrictACL(empty) = %v %q", changed, out)
	}
}

func TestPrepare(t *testing.T) {
	p := New(Config{}).Process().(datastore.Preparer)
	dir := t.TempDir()
	spec := testSpec()
	spec.DataDir = dir
	acl := filepath.Join(dir, aclName)
	const content = "user app on #aa ~* &* +@all -@admin\nuser os_admin on #bb ~* &* +@all\n"
	if err := os.WriteFile(acl, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		t.Helper()
		b, err := os.ReadFile(acl)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// Not a replica: the file is left alone.
	if err := p.Prepare(spec); err != nil || read() != content {
		t.Fatalf("Prepare without ReplicaOf = %v, aclfile\n%s", err, read())
	}
	spec.ReplicaOf = &datastore.ReplicaSource{Address: "10.0.0.1", Port: 6379, User: replUser}
	if err := p.Prepare(spec); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	got := read()
	if !strings.Contains(got, "user app on #aa ~* &* +@all -@admin -config|get -config|set -replicaof -slaveof\n") ||
		!strings.Contains(got, "user os_admin on #bb ~* &* +@all\n") {
		t.Errorf("aclfile after Prepare:\n%s", got)
	}
	if fi, err := os.Stat(acl); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("aclfile mode after Prepare = %v, %v; want 0640", fi.Mode(), err)
	}
	if err := p.Prepare(spec); err != nil || read() != got {
		t.Errorf("Prepare again = %v, aclfile\n%s", err, read())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data dir after Prepare holds %d entries, want the aclfile only", len(entries))
	}

	// No aclfile: nothing to do. A symbolic link is not followed.
	if err := os.Remove(acl); err != nil {
		t.Fatal(err)
	}
	if err := p.Prepare(spec); err != nil {
		t.Errorf("Prepare without an aclfile = %v", err)
	}
	outside := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(outside, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, acl); err != nil {
		t.Fatal(err)
	}
	if err := p.Prepare(spec); err == nil {
		t.Error("Prepare followed a symbolic link")
	}
	if b, _ := os.ReadFile(outside); string(b) != content {
		t.Errorf("the link's target changed:\n%s", b)
	}
}

func TestReplicaStatusFromInfo(t *testing.T) {
	up := func(kv ...string) map[string]string {
		m := map[string]string{"role": "slave", "master_link_status": "up"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	down := func(kv ...string) map[string]string {
		m := map[string]string{"role": "slave", "master_host": "10.0.0.7", "master_port": "6379",
			"master_link_status": "down", "master_last_io_seconds_ago": "-1", "master_sync_in_progress": "0"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	connecting := datastore.ReplicaStatus{State: datastore.ReplicaConnecting, LagSeconds: -1}
	broken := func(secs string) datastore.ReplicaStatus {
		return datastore.ReplicaStatus{State: datastore.ReplicaBroken, LagSeconds: -1,
			Error: "The link to the source 10.0.0.7 port 6379 has been down for " + secs + " seconds; the replica keeps retrying."}
	}
	tests := []struct {
		name    string
		info    map[string]string
		uptime  int
		want    datastore.ReplicaStatus
		wantErr error
	}{
		{name: "source", info: map[string]string{"role": "master"}, wantErr: datastore.ErrNotReplica},
		{name: "link down, no down time (before Redis 2.8)", info: map[string]string{"role": "slave", "master_link_status": "down", "master_last_io_seconds_ago": "-1"},
			want: connecting},
		{name: "link down for a moment", info: down("master_link_down_since_seconds", "4"), want: connecting},
		{name: "link down just under the threshold", info: down("master_link_down_since_seconds", "29"), want: connecting},
		{name: "link down for the threshold", info: down("master_link_down_since_seconds", "30"), want: broken("30")},
		{name: "link down long", info: down("master_link_down_since_seconds", "3600"), want: broken("3600")},
		{name: "first sync under way", info: down("master_link_down_since_seconds", "-1", "master_sync_in_progress", "1"),
			uptime: 600, want: connecting},
		{name: "resync under way", info: down("master_link_down_since_seconds", "300", "master_sync_in_progress", "1"),
			want: connecting},
		{name: "never up, just started", info: down("master_link_down_since_seconds", "-1"), uptime: 5, want: connecting},
		{name: "never up, up long", info: down("master_link_down_since_seconds", "-1"), uptime: 45, want: broken("45")},
		{name: "never up, uptime unknown", info: down("master_link_down_since_seconds", "-1"), uptime: -1, want: connecting},
		{name: "down time garbled", info: down("master_link_down_since_seconds", "x"), uptime: 600, want: connecting},
		{name: "current", info: up("master_last_io_seconds_ago", "3", "slave_read_repl_offset", "120", "slave_repl_offset", "120"),
			want: datastore.ReplicaStatus{State: datastore.ReplicaRunning, LagSeconds: 0}},
		{name: "before Redis 7", info: up("master_last_io_seconds_ago", "1", "slave_repl_offset", "120"),
			want: datastore.ReplicaStatus{State: datastore.ReplicaRunning, LagSeconds: 0}},
		{name: "applying", info: up("master_last_io_seconds_ago", "2", "slave_read_repl_offset", "180", "slave_repl_offset", "120"),
			want: datastore.ReplicaStatus{State: datastore.ReplicaRunning, LagSeconds: 2}},
		{name: "source silent", info: up("master_last_io_seconds_ago", "25", "slave_read_repl_offset", "120", "slave_repl_offset", "120"),
			want: datastore.ReplicaStatus{State: datastore.ReplicaRunning, LagSeconds: 25}},
		{name: "no io", info: up(), want: datastore.ReplicaStatus{State: datastore.ReplicaRunning, LagSeconds: -1}},
	}
	for _, tt := range tests {
		got, err := replicaStatus(tt.info, tt.uptime, DefaultReplicaBrokenAfter)
		if !errors.Is(err, tt.wantErr) || got != tt.want {
			t.Errorf("%s: replicaStatus = %+v, %v; want %+v, %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
	if _, err := replicaStatus(map[string]string{"role": "sentinel"}, -1, DefaultReplicaBrokenAfter); err == nil {
		t.Error("replicaStatus(role sentinel) = nil error")
	}
	// The threshold is the caller's.
	if got, _ := replicaStatus(down("master_link_down_since_seconds", "2"), -1, time.Second); got.State != datastore.ReplicaBroken {
		t.Errorf("replicaStatus(down 2 s, threshold 1 s) = %+v, want broken", got)
	}
}

func TestReplicationUserReserved(t *testing.T) {
	e := New(Config{})
	if e.ReplicationUser() != "os_replicator" {
		t.Errorf("ReplicationUser = %q", e.ReplicationUser())
	}
	if !slices.Contains(ReservedUsers(), e.ReplicationUser()) || !hiddenUser("OS_Replicator") {
		t.Errorf("ReservedUsers = %v lacks %s", ReservedUsers(), e.ReplicationUser())
	}
	for _, n := range []string{"os_replicator", "OS_REPLICATOR"} {
		if err := e.ValidateUser(datastore.User{Name: n, Password: "pw"}); !fault.Is(err, fault.Invalid) ||
			!strings.Contains(fault.Message(err), "reserved") {
			t.Errorf("ValidateUser(%s) = %v, want Invalid (reserved)", n, err)
		}
	}
}
