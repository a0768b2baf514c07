package postgresql

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

func TestComparePositions(t *testing.T) {
	tests := []struct {
		a, b    string
		want    int
		wantErr bool
	}{
		{"0/3000148", "0/3000148", 0, false},
		{"0/3000148", "0/3000149", -1, false},
		{"0/3000149", "0/3000148", 1, false},
		{"0/FFFFFFFF", "1/0", -1, false}, // the high half counts first
		{"1/0", "0/FFFFFFFF", 1, false},
		{"16/B374D848", "16/b374d848", 0, false}, // either case
		{"A/0", "9/FFFFFFFF", 1, false},          // hexadecimal, not text order
		{"0/10", "0/9", 1, false},
		{"FFFFFFFF/FFFFFFFF", "0/0", 1, false},
		{"00000000/00000001", "0/1", 0, false},
		{"", "0/1", 0, true},
		{"0/1", "", 0, true},
		{"0/1/2", "0/1", 0, true},
		{"0-1", "0/1", 0, true},
		{"100000000/0", "0/1", 0, true}, // more than 32 bits
		{"0/g", "0/1", 0, true},
		{" 0/1", "0/1", 0, true},
		{"-1/0", "0/1", 0, true},
		{"mysql-bin.000001:4", "0/1", 0, true},
	}
	e := New(Config{})
	for _, tt := range tests {
		t.Run(tt.a+" vs "+tt.b, func(t *testing.T) {
			got, err := e.ComparePositions(tt.a, tt.b)
			if tt.wantErr {
				if !fault.Is(err, fault.Invalid) {
					t.Errorf("ComparePositions(%q, %q) = %d, %v; want Invalid", tt.a, tt.b, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ComparePositions(%q, %q) = %d, %v; want %d", tt.a, tt.b, got, err, tt.want)
			}
		})
	}
}

func TestFormatLSN(t *testing.T) {
	for _, s := range []string{"0/0", "0/3000148", "16/B374D848", "FFFFFFFF/FFFFFFFF"} {
		p, err := parseLSN(s)
		if err != nil || formatLSN(p) != s {
			t.Errorf("formatLSN(parseLSN(%q)) = %q, %v", s, formatLSN(p), err)
		}
	}
}

func TestFenceUnfence(t *testing.T) {
	e := New(Config{})
	// No server: Fence and Unfence touch none.
	c := datastore.Conn{Address: "127.0.0.1", Port: 1, User: adminUser, Password: adminPassword}
	for i := range 2 {
		pos, err := e.Fence(context.Background(), c)
		if !errors.Is(err, datastore.ErrStopToFence) || pos != "" {
			t.Errorf("Fence #%d = %q, %v; want ErrStopToFence", i+1, pos, err)
		}
		if err := e.Unfence(context.Background(), c); err != nil {
			t.Errorf("Unfence #%d = %v", i+1, err)
		}
	}
}

func TestParseConninfo(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
	}{
		{"", map[string]string{}},
		{"host=h port=5432", map[string]string{"host": "h", "port": "5432"}},
		{"  host = 'a b'\tport=1  ", map[string]string{"host": "a b", "port": "1"}},
		{`user='it\'s' passfile='/a\\b' x=a\ b`, map[string]string{"user": "it's", "passfile": `/a\b`, "x": "a b"}},
		{"host=''", map[string]string{"host": ""}},
	}
	for _, tt := range tests {
		got, err := parseConninfo(tt.in)
		if err != nil {
			t.Errorf("parseConninfo(%q): %v", tt.in, err)
			continue
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("parseConninfo(%q) (-want +got):\n%s", tt.in, d)
		}
	}
	for _, bad := range []string{"host", "host 'x'", "=x", "host='x"} {
		if kv, err := parseConninfo(bad); err == nil {
			t.Errorf("parseConninfo(%q) = %v, want an error", bad, kv)
		}
	}
}

// TestConninfoNames checks that Follow recognises the source in what
// Render writes for it.
func TestConninfoNames(t *testing.T) {
	for _, src := range []datastore.ReplicaSource{
		{Address: "127.0.1.8", Port: 5432, User: replicationUser},
		{Address: "::1", Port: 6543, User: "r$-x"},
		{Address: "db-1.example.com", Port: 1, User: replicationUser},
	} {
		spec := replicaSpec()
		spec.ReplicaOf = &src
		spec.InstanceID, spec.RunDir = `i'1\x y`, "/srv/a,b@c:d"
		ci := primaryConninfo(spec)
		if !conninfoNames(ci, src) {
			t.Errorf("conninfoNames(%s, %s port %d) = false", ci, src.Address, src.Port)
		}
		for _, other := range []datastore.ReplicaSource{
			{Address: src.Address, Port: src.Port + 1},
			{Address: src.Address + "9", Port: src.Port},
		} {
			if conninfoNames(ci, other) {
				t.Errorf("conninfoNames(%s, %s port %d) = true", ci, other.Address, other.Port)
			}
		}
	}
	if conninfoNames("", datastore.ReplicaSource{Address: "127.0.0.1", Port: 5432}) {
		t.Error("an empty primary_conninfo names a source")
	}
	if !conninfoNames("host=h", datastore.ReplicaSource{Address: "h", Port: 5432}) {
		t.Error("a primary_conninfo without a port does not name port 5432")
	}
}

func TestWalTimelines(t *testing.T) {
	tests := []struct {
		names []string
		want  timelines
	}{
		{nil, timelines{history: 1}},
		{[]string{"000000010000000000000003", "000000010000000000000004"}, timelines{history: 1, segment: 1}},
		{[]string{"000000010000000000000003", "00000002.history", "000000010000000000000003.partial", "archive_status"},
			timelines{history: 2, segment: 1}},
		{[]string{"0000000A.history", "00000003.history", "0000000A0000000000000009", "00000002000000000000000A"},
			timelines{history: 10, segment: 10}},
		{[]string{"00000002.history.tmp", "xlogtemp.123", "0000000g0000000000000001"}, timelines{history: 1}},
	}
	for _, tt := range tests {
		if got := walTimelines(tt.names); got != tt.want {
			t.Errorf("walTimelines(%q) = %+v, want %+v", tt.names, got, tt.want)
		}
	}
}

func TestForkPoint(t *testing.T) {
	// A history file of timeline 3 as PostgreSQL writes it (timeline.c).
	const history = "1\t0/3000000\tno recovery target specified\n" +
		"\n# a comment\n" +
		"2\t0/5000A28\tno recovery target specified\n"
	for _, tt := range []struct {
		tli  uint32
		want string
		ok   bool
	}{
		{1, "0/3000000", true},
		{2, "0/5000A28", true},
		{3, "", false}, // the file's own timeline is not a parent
		{7, "", false},
	} {
		got, ok, err := forkPoint(history, tt.tli)
		if err != nil || ok != tt.ok || (ok && formatLSN(got) != tt.want) {
			t.Errorf("forkPoint(timeline %d) = %s, %v, %v; want %s, %v", tt.tli, formatLSN(got), ok, err, tt.want, tt.ok)
		}
	}
	for _, bad := range []string{"1\n", "x\t0/1\treason\n", "1\tzz\treason\n"} {
		if _, _, err := forkPoint(bad, 1); err == nil {
			t.Errorf("forkPoint(%q) accepted it", bad)
		}
	}
}
