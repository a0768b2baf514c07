package redis

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
)

// seedCases are the data directories seedAOF, and the container's Prepare
// command, start from; want is appendonly.aof's content afterwards ("" for
// none, "error" for a refusal).
var seedCases = []struct {
	name  string
	setup func(t *testing.T, dir string)
	want  string
}{
	{"empty", func(*testing.T, string) {}, ""},
	{"snapshot only", func(t *testing.T, dir string) { write(t, dir, rdbName, "RDB") }, "RDB"},
	{"aof dir exists", func(t *testing.T, dir string) {
		write(t, dir, rdbName, "RDB")
		if err := os.Mkdir(filepath.Join(dir, aofDirName), 0o700); err != nil {
			t.Fatal(err)
		}
	}, ""},
	{"aof file exists", func(t *testing.T, dir string) {
		write(t, dir, rdbName, "RDB")
		write(t, dir, aofFileName, "AOF")
	}, "AOF"},
	{"snapshot is a link", func(t *testing.T, dir string) {
		write(t, dir, "elsewhere", "X")
		if err := os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(dir, rdbName)); err != nil {
			t.Fatal(err)
		}
	}, "error"},
}

func TestSeedAOF(t *testing.T) {
	for _, tc := range seedCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			err := seedAOF(dir)
			if tc.want == "error" {
				if err == nil {
					t.Fatal("seedAOF followed a symbolic link")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, rerr := os.ReadFile(filepath.Join(dir, aofFileName))
			if got := string(b); got != tc.want || (tc.want == "") != os.IsNotExist(rerr) {
				t.Errorf("appendonly.aof = %q (%v), want %q", got, rerr, tc.want)
			}
			if err := seedAOF(dir); err != nil {
				t.Errorf("seedAOF again: %v", err)
			}
		})
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestContainerPrepare runs the container's Prepare command (a shell
// script) on the same data directories as seedAOF: it must do the same,
// except that it leaves a linked snapshot alone instead of failing.
func TestContainerPrepare(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh: %v", err)
	}
	for _, tc := range seedCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			cmd := New(Config{}).Container(datastore.Spec{DataDir: dir, Port: 6379}).Prepare
			for range 2 { // idempotent
				if out, err := exec.Command(sh, cmd[1:]...).CombinedOutput(); err != nil {
					t.Fatalf("%v: %v\n%s", cmd, err, out)
				}
			}
			want := tc.want
			if want == "error" {
				want = ""
			}
			b, rerr := os.ReadFile(filepath.Join(dir, aofFileName))
			if got := string(b); got != want || (want == "") != os.IsNotExist(rerr) {
				t.Errorf("appendonly.aof = %q (%v), want %q", got, rerr, want)
			}
		})
	}
}
