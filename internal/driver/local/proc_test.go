package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hoard-db/hoard/internal/driver"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    procStat
		wantErr bool
	}{
		{
			name: "plain",
			in:   "1234 (mariadbd) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 37 0 987654 1000 200 18446744073709551615",
			want: procStat{State: 'S', Pgrp: 1234, Threads: 37, StartTime: 987654},
		},
		{
			name: "name with spaces and parentheses",
			in:   "77 (a) b (c)) Z 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0",
			want: procStat{State: 'Z', Pgrp: 77, Threads: 1, StartTime: 42},
		},
		{name: "empty", in: "", wantErr: true},
		{name: "no name", in: "1 S 1 1", wantErr: true},
		{name: "short", in: "1 (x) S 1 1 1", wantErr: true},
		{name: "bad state", in: "1 (x) SS 1 1" + strings.Repeat(" 0", 20), wantErr: true},
		{name: "bad start time", in: "1 (x) S 1 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 -5 0", wantErr: true},
		{name: "bad pgrp", in: "1 (x) S 1 x" + strings.Repeat(" 0", 20), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStat(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("parseStat(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestReadStatSelf(t *testing.T) {
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.dead() || st.StartTime == 0 || st.Threads < 1 {
		t.Errorf("own stat = %+v", st)
	}
}

func TestProcStatDead(t *testing.T) {
	tests := []struct {
		st   procStat
		want bool
	}{
		{procStat{State: 'S', Threads: 5}, false},
		{procStat{State: 'R', Threads: 1}, false},
		{procStat{State: 'Z', Threads: 3}, false}, // leader gone, threads still exiting
		{procStat{State: 'Z', Threads: 1}, true},
		{procStat{State: 'X'}, true},
	}
	for _, tt := range tests {
		if got := tt.st.dead(); got != tt.want {
			t.Errorf("%+v.dead() = %v, want %v", tt.st, got, tt.want)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1234 (mariadbd) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 37 0 987654 1000 200"))
	f.Add([]byte("77 (a) b (c)) Z 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0"))
	f.Add([]byte(")"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseStat(b)
		if err != nil && st != (procStat{}) {
			t.Errorf("error %v with non-zero result %+v", err, st)
		}
	})
}

func TestHandleRoundTrip(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve"})
	d := h.driver(nil)
	if err := os.Mkdir(filepath.Join(h.root, "rt"), 0o750); err != nil {
		t.Fatal(err)
	}
	want := &handle{
		Engine: "fake", Want: true, PID: 42, StartTime: 7, Exe: "/usr/sbin/mariadbd",
		Spec:      driver.Spec{InstanceID: "rt", Engine: "fake", Address: "127.0.1.2", Port: 3306, RAMMB: 1024, VolumeGB: 2},
		StartedAt: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
	}
	if err := d.writeHandle("rt", want); err != nil {
		t.Fatal(err)
	}
	got, err := d.readHandle("rt")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("handle round trip (-want +got):\n%s", diff)
	}
	// A corrupt handle reads as none.
	if err := os.WriteFile(filepath.Join(h.root, "rt", handleName), []byte("{"), 0o640); err != nil {
		t.Fatal(err)
	}
	if got, err := d.readHandle("rt"); err != nil || got != nil {
		t.Errorf("corrupt handle read as %+v, %v", got, err)
	}
}

func TestDecodeHandle(t *testing.T) {
	tests := []struct {
		in      string
		wantErr bool
	}{
		{`{"version":1,"engine":"mariadb","want_running":true,"pid":5,"start_time":9,"exe":"/x"}`, false},
		{`{"version":2}`, true}, // from a newer hoard
		{`{"version":0}`, true},
		{`{"version":1,"pid":-1}`, true},
		{`[]`, true},
		{``, true},
	}
	for _, tt := range tests {
		if _, err := decodeHandle([]byte(tt.in)); (err != nil) != tt.wantErr {
			t.Errorf("decodeHandle(%s) error = %v, want error %v", tt.in, err, tt.wantErr)
		}
	}
}

func FuzzDecodeHandle(f *testing.F) {
	f.Add([]byte(`{"version":1,"engine":"mariadb","spec":{"InstanceID":"a"},"want_running":true,"pid":5,"start_time":9,"exe":"/x"}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHandle(b)
		if err != nil {
			return
		}
		if h.Version != handleVersion || h.PID < 0 {
			t.Errorf("accepted %+v", h)
		}
	})
}

func TestTail(t *testing.T) {
	tests := []struct {
		name, content, want string
		n                   int
	}{
		{"few lines", "a\nb\nc\n", "a\nb\nc", 5},
		{"last n", "a\nb\nc\nd\n", "c\nd", 2},
		{"no newline", "a\nb", "a\nb", 5},
		{"empty", "", "", 5},
		{"long file cut at 4 KiB", strings.Repeat("x", 5000) + "\nlast\n", "last", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "log")
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := tailPath(p, tt.n); got != tt.want {
				t.Errorf("tail = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"3f1c2a9e-8d4b-4c1e-9a7f-0b6d5e4c3a21", true},
		{"a.b_c-D", true},
		{"", false},
		{".", false},
		{"..", false},
		{".hidden", false},
		{"a/b", false},
		{"a b", false},
		{strings.Repeat("a", 65), false},
	}
	for _, tt := range tests {
		if got := validID(tt.id); got != tt.want {
			t.Errorf("validID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}
