package redis

import (
	"testing"

	"github.com/hoard-db/hoard/internal/fault"
)

func TestComparePositions(t *testing.T) {
	tests := []struct {
		a, b    string
		want    int
		wantErr bool
	}{
		{a: "0", b: "0", want: 0},
		{a: "14", b: "14", want: 0},
		{a: "14", b: "15", want: -1},
		{a: "15", b: "14", want: 1},
		{a: "9", b: "10", want: -1}, // integers, not strings
		{a: "100", b: "99", want: 1},
		{a: "007", b: "7", want: 0},
		{a: "9223372036854775807", b: "9223372036854775806", want: 1},
		{a: "", b: "1", wantErr: true},
		{a: "1", b: "", wantErr: true},
		{a: "-1", b: "1", wantErr: true},
		{a: "+1", b: "1", wantErr: true},
		{a: " 1", b: "1", wantErr: true},
		{a: "1.5", b: "1", wantErr: true},
		{a: "0x10", b: "1", wantErr: true},
		{a: "9223372036854775808", b: "1", wantErr: true}, // beyond int64
		{a: "12345678901234567890123", b: "1", wantErr: true},
		{a: "0-1:2", b: "1", wantErr: true}, // another engine's
	}
	e := New(Config{})
	for _, tt := range tests {
		t.Run(tt.a+" vs "+tt.b, func(t *testing.T) {
			got, err := e.ComparePositions(tt.a, tt.b)
			if tt.wantErr {
				if err == nil || fault.KindOf(err) != fault.Invalid {
					t.Errorf("ComparePositions(%q, %q) = %d, %v; want a fault.Invalid error", tt.a, tt.b, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ComparePositions(%q, %q) = %d, %v; want %d", tt.a, tt.b, got, err, tt.want)
			}
		})
	}
}

func TestCaughtUpFromInfo(t *testing.T) {
	replica := func(link, applied, read string) map[string]string {
		return map[string]string{"role": "slave", "master_link_status": link,
			"slave_repl_offset": applied, "slave_read_repl_offset": read, "master_repl_offset": applied}
	}
	tests := []struct {
		name     string
		info     map[string]string
		position string
		want     bool
		wantErr  bool
	}{
		{name: "behind", info: replica("up", "99", "99"), position: "100", want: false},
		{name: "at", info: replica("up", "100", "100"), position: "100", want: true},
		{name: "ahead", info: replica("up", "114", "114"), position: "100", want: true},
		{name: "read but not applied", info: replica("up", "90", "100"), position: "100", want: false},
		{name: "link down at", info: replica("down", "100", "100"), position: "100", want: true},
		{name: "promoted", info: map[string]string{"role": "master", "master_repl_offset": "100"}, position: "100", want: true},
		{name: "promoted behind", info: map[string]string{"role": "master", "master_repl_offset": "99"}, position: "100", want: false},
		// Position "": the source stopped.
		{name: "stopped, link up", info: replica("up", "100", "100"), want: false},
		{name: "stopped, applying", info: replica("down", "90", "100"), want: false},
		{name: "stopped, applied all", info: replica("down", "100", "100"), want: true},
		{name: "stopped, promoted", info: map[string]string{"role": "master", "master_repl_offset": "5"}, want: true},
		{name: "no offset", info: map[string]string{"role": "slave"}, position: "1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want int64
			if tt.position != "" {
				var err error
				if want, err = parsePosition("test", tt.position); err != nil {
					t.Fatal(err)
				}
			}
			got, _, err := caughtUp(tt.info, tt.position, want)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("caughtUp(%v, %q) = %v, %v; want %v (error %v)", tt.info, tt.position, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
