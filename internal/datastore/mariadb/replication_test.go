package mariadb

import (
	"errors"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// TestRenderReplication checks the binary log and replica settings of
// my.cnf, and that a replica's rendering holds no trace of its source's
// password.
func TestRenderReplication(t *testing.T) {
	const pw = "Repl-s3cret-pw"
	src := &datastore.ReplicaSource{Address: "10.0.0.5", Port: 3306, User: replUser, Password: pw}
	always := []string{
		"log-bin=mariadb-bin\n", "binlog-format=ROW\n", "log-slave-updates=ON\n",
		"binlog_expire_logs_seconds=86400\n", "max_binlog_size=64M\n",
		"log-bin-trust-function-creators=ON\n", "relay-log=relay-bin\n",
	}
	tests := []struct {
		name     string
		id       string
		replica  *datastore.ReplicaSource
		admin    bool
		serverID string
		readOnly bool
	}{
		{"source", "7d9c1f2e", nil, false, "1939140928", false},
		{"replica", "7d9c1f2e", src, false, "1939140928", true},
		{"replica with init-file", "7d9c1f2e", src, true, "1939140928", true},
		{"other instance", "test", nil, false, "2949673445", false},
		{"other replica", "source", src, true, "466561496", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec()
			spec.InstanceID, spec.ReplicaOf, spec.Replicated = tt.id, tt.replica, true
			if tt.admin {
				spec.AdminUser, spec.AdminPassword = adminUser, "Adm1n-pw"
			}
			files, err := New(Config{}).Process().Render(spec)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			cnf := string(files[0].Content)
			for _, want := range append(always, "server-id="+tt.serverID+"\n") {
				if !strings.Contains(cnf, want) {
					t.Errorf("my.cnf lacks %q:\n%s", want, cnf)
				}
			}
			if got := strings.Contains(cnf, "\nread-only=ON\n"); got != tt.readOnly {
				t.Errorf("read-only=ON rendered: %v, want %v", got, tt.readOnly)
			}
			if strings.Contains(cnf, "skip-log-bin") {
				t.Error("my.cnf turns the binary log off")
			}
			for _, f := range files {
				if strings.Contains(string(f.Content), pw) || strings.Contains(string(f.Content), src.Address) {
					t.Errorf("%s names the source or its password:\n%s", f.Name, f.Content)
				}
			}
			if tt.admin {
				if len(files) != 2 || !strings.HasPrefix(string(files[1].Content), "SET sql_log_bin = 0;\n") {
					t.Errorf("the init-file must start with SET sql_log_bin = 0: %q", files[len(files)-1].Content)
				}
			}
		})
	}
}

func TestServerID(t *testing.T) {
	seen := map[uint32]string{}
	for _, id := range []string{"", "test", "source", "7d9c1f2e", "7d9c1f2f", "8a5d3b4e-1111-4c2d-9e0f-123456789abc"} {
		got := serverID(id)
		if got == 0 {
			t.Errorf("serverID(%q) = 0", id)
		}
		if again := serverID(id); again != got {
			t.Errorf("serverID(%q) = %d, then %d", id, got, again)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("serverID(%q) = serverID(%q) = %d", id, other, got)
		}
		seen[got] = id
	}
}

func TestReadOnlyBypass(t *testing.T) {
	tests := []struct{ version, want string }{
		{"10.11.19-MariaDB-0+deb12u1-log", "READ_ONLY ADMIN"},
		{"11.4.2-MariaDB", "READ_ONLY ADMIN"},
		{"10.11.0-MariaDB", "READ_ONLY ADMIN"},
		{"10.10.7-MariaDB", "READ_ONLY ADMIN, SUPER"},
		{"10.5.2-MariaDB", "READ_ONLY ADMIN, SUPER"},
		{"10.5.1-MariaDB", "SUPER"},
		{"10.4.30-MariaDB", "SUPER"},
	}
	for _, tt := range tests {
		got, err := readOnlyBypass(tt.version)
		if err != nil || strings.Join(got, ", ") != tt.want {
			t.Errorf("readOnlyBypass(%q) = %q, %v; want %q", tt.version, got, err, tt.want)
		}
	}
	if _, err := readOnlyBypass("MySQL"); err == nil {
		t.Error("readOnlyBypass(MySQL) succeeded")
	}
}

func TestParseGTIDPos(t *testing.T) {
	info := func(line string) []byte {
		return []byte("uuid = x\ntool_name = mariadb-backup\n" + line + "\ninnodb_from_lsn = 0\n")
	}
	tests := []struct {
		name   string
		in     []byte
		want   string
		wantOK bool
	}{
		{"one domain", info("binlog_pos = filename 'mariadb-bin.000001', position '802', GTID of the last change '0-7-3'"), "0-7-3", true},
		{"domains", info("binlog_pos = filename 'mariadb-bin.000004', position '4', GTID of the last change '0-1939140928-56,1-2-3'"), "0-1939140928-56,1-2-3", true},
		{"nothing logged yet", info("binlog_pos = filename 'mariadb-bin.000001', position '329', GTID of the last change ''"), "", true},
		{"no binary log", info("partial = N"), "", false},
		{"malformed", info("binlog_pos = filename 'b', position '4', GTID of the last change '0-1-2; DROP'"), "", false},
		{"not at line start", info("x binlog_pos = filename 'b', position '4', GTID of the last change '0-1-2'"), "", false},
	}
	for _, tt := range tests {
		got, ok := ParseGTIDPos(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: ParseGTIDPos = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestReplicaRowStatus(t *testing.T) {
	tests := []struct {
		name string
		row  replicaRow
		want datastore.ReplicaStatus
	}{
		{"running", replicaRow{"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Seconds_Behind_Master": "3"},
			datastore.ReplicaStatus{State: datastore.ReplicaRunning, LagSeconds: 3}},
		{"running, stale error", replicaRow{"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Seconds_Behind_Master": "0", "Last_IO_Error": "error reconnecting"},
			datastore.ReplicaStatus{State: datastore.ReplicaRunning, LagSeconds: 0, Error: "error reconnecting"}},
		{"connecting", replicaRow{"Slave_IO_Running": "Connecting", "Slave_SQL_Running": "Yes", "Last_IO_Errno": "2003", "Last_IO_Error": "error connecting to master 'os_repl@10.0.0.5:3306'"},
			datastore.ReplicaStatus{State: datastore.ReplicaConnecting, LagSeconds: -1, Error: "error connecting to master 'os_repl@10.0.0.5:3306'"}},
		{"preparing", replicaRow{"Slave_IO_Running": "Preparing", "Slave_SQL_Running": "Yes"},
			datastore.ReplicaStatus{State: datastore.ReplicaConnecting, LagSeconds: -1}},
		{"sql error", replicaRow{"Slave_IO_Running": "Yes", "Slave_SQL_Running": "No", "Last_SQL_Errno": "1062", "Last_SQL_Error": "Duplicate entry", "Last_IO_Error": "older"},
			datastore.ReplicaStatus{State: datastore.ReplicaBroken, LagSeconds: -1, Error: "Duplicate entry"}},
		{"io fatal", replicaRow{"Slave_IO_Running": "No", "Slave_SQL_Running": "Yes", "Last_IO_Errno": "1236", "Last_IO_Error": "Got fatal error 1236 from master"},
			datastore.ReplicaStatus{State: datastore.ReplicaBroken, LagSeconds: -1, Error: "Got fatal error 1236 from master"}},
		{"stopped", replicaRow{"Slave_IO_Running": "No", "Slave_SQL_Running": "No"},
			datastore.ReplicaStatus{State: datastore.ReplicaBroken, LagSeconds: -1, Error: "replication was stopped"}},
	}
	for _, tt := range tests {
		if got := tt.row.status(); got != tt.want {
			t.Errorf("%s: status = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	r := replicaRow{"Master_Host": "10.0.0.5", "Master_Port": "3306", "Master_User": replUser, "Using_Gtid": "Slave_Pos"}
	src := datastore.ReplicaSource{Address: "10.0.0.5", Port: 3306, User: replUser}
	if !r.follows(src) {
		t.Error("follows: the configured source is not recognised")
	}
	for _, other := range []datastore.ReplicaSource{
		{Address: "10.0.0.6", Port: 3306, User: replUser},
		{Address: "10.0.0.5", Port: 3307, User: replUser},
		{Address: "10.0.0.5", Port: 3306, User: "other"},
	} {
		if r.follows(other) {
			t.Errorf("follows(%+v) = true", other)
		}
	}
	r["Using_Gtid"] = "No"
	if r.follows(src) {
		t.Error("follows: a replica not using GTID follows src")
	}
}

func TestCheckSource(t *testing.T) {
	good := datastore.ReplicaSource{Address: "127.0.1.7", Port: 3306, User: replUser, Password: "Repl-pw_1"}
	if err := checkSource("mariadb.start_replica", good); err != nil {
		t.Fatalf("checkSource(good) = %v", err)
	}
	tests := []struct {
		name string
		mod  func(*datastore.ReplicaSource)
	}{
		{"empty address", func(s *datastore.ReplicaSource) { s.Address = "" }},
		{"quote in address", func(s *datastore.ReplicaSource) { s.Address = "a'b" }},
		{"zone", func(s *datastore.ReplicaSource) { s.Address = "fe80::1%eth0" }},
		{"port 0", func(s *datastore.ReplicaSource) { s.Port = 0 }},
		{"user with a quote", func(s *datastore.ReplicaSource) { s.User = "a'b" }},
		{"empty password", func(s *datastore.ReplicaSource) { s.Password = "" }},
		{"long password", func(s *datastore.ReplicaSource) { s.Password = datastore.Secret(strings.Repeat("p", 33)) }},
		{"newline in password", func(s *datastore.ReplicaSource) { s.Password = "a\nb" }},
	}
	for _, tt := range tests {
		src := good
		tt.mod(&src)
		err := checkSource("mariadb.start_replica", src)
		if !fault.Is(err, fault.Invalid) {
			t.Errorf("%s: checkSource = %v, want Invalid", tt.name, err)
		}
		if err != nil && src.Password != "" && strings.Contains(err.Error(), string(src.Password)) {
			t.Errorf("%s: the error shows the password: %v", tt.name, err)
		}
	}
}

func TestScrub(t *testing.T) {
	err := errors.New("Error 1064: near 'Pw-123' at line 1")
	if got := scrub(err, "Pw-123").Error(); strings.Contains(got, "Pw-123") || !strings.Contains(got, "[redacted]") {
		t.Errorf("scrub = %q", got)
	}
	if got := scrub(err, "other"); got != err {
		t.Errorf("scrub changed an error without the secret: %v", got)
	}
}

// TestReplicationSettings checks that only a server of a replication set
// keeps a binary log (a standalone one would wait for space to write it on
// a full volume) and that a replica is read-only.
func TestReplicationSettings(t *testing.T) {
	tests := []struct {
		name                   string
		spec                   datastore.Spec
		binlog, readOnly, semi bool
	}{
		{"standalone", datastore.Spec{InstanceID: "i"}, false, false, false},
		{"source", datastore.Spec{InstanceID: "i", Replicated: true}, true, false, false},
		{"replica", datastore.Spec{InstanceID: "i", ReplicaOf: &datastore.ReplicaSource{Address: "a", Port: 1}}, true, true, false},
		{"HA source", datastore.Spec{InstanceID: "i", Replicated: true, Synchronous: true}, true, false, true},
		{"HA replica", datastore.Spec{InstanceID: "i", Synchronous: true, ReplicaOf: &datastore.ReplicaSource{Address: "a", Port: 1}}, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]string{}
			for _, kv := range replicationSettings(tt.spec) {
				got[kv[0]] = kv[1]
			}
			if _, ok := got["log-bin"]; ok != tt.binlog {
				t.Errorf("log-bin rendered = %v, want %v (%v)", ok, tt.binlog, got)
			}
			if (got["read-only"] == "ON") != tt.readOnly {
				t.Errorf("read-only = %q, want on: %v", got["read-only"], tt.readOnly)
			}
			semi := got["rpl_semi_sync_slave_enabled"] == "ON" && got["rpl_semi_sync_master_wait_point"] == "AFTER_SYNC"
			if semi && got["rpl_semi_sync_master_enabled"] != "OFF" {
				t.Errorf("rpl_semi_sync_master_enabled = %q; want OFF until a replica follows (SetSyncCommit)", got["rpl_semi_sync_master_enabled"])
			}
			if semi != tt.semi {
				t.Errorf("semi-synchronous replication rendered = %v, want %v (%v)", semi, tt.semi, got)
			}
			if got["server-id"] == "" || got["server-id"] == "0" {
				t.Errorf("server-id = %q, want a non-zero id", got["server-id"])
			}
		})
	}
}
