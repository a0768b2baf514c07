package local

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// inode returns path's inode number: writeAtomic gives a rewritten file a
// new one.
func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestWriteConfFileUnchanged checks that writeConfFile leaves a file that
// already is what it would write, and rewrites one that differs in any way.
func TestWriteConfFileUnchanged(t *testing.T) {
	a := account{uid: uint32(os.Getuid()), gid: uint32(os.Getgid()), asRoot: os.Geteuid() == 0}
	d := &Driver{}
	data := []byte("port = 5432\n")
	tests := []struct {
		name    string
		spoil   func(t *testing.T, path string) // after the first write
		rewrite bool
	}{
		{"same", func(*testing.T, string) {}, false},
		{"other content", func(t *testing.T, p string) { must(t, os.WriteFile(p, []byte("port = 5433\n"), 0o640)) }, true},
		{"longer", func(t *testing.T, p string) { must(t, os.WriteFile(p, append(data, '#'), 0o640)) }, true},
		{"shorter", func(t *testing.T, p string) { must(t, os.WriteFile(p, data[:4], 0o640)) }, true},
		{"mode", func(t *testing.T, p string) { must(t, os.Chmod(p, 0o644)) }, true},
		{"symbolic link", func(t *testing.T, p string) {
			other := p + ".other"
			must(t, os.WriteFile(other, data, 0o640))
			must(t, os.Remove(p))
			must(t, os.Symlink(other, p))
		}, true},
		{"directory", func(t *testing.T, p string) { must(t, os.Remove(p)); must(t, os.Mkdir(p, 0o750)) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "postgresql.conf")
			must(t, d.writeConfFile(path, data, a))
			tt.spoil(t, path)
			before := inode(t, path)
			err := d.writeConfFile(path, data, a)
			if tt.name == "directory" {
				if err == nil {
					t.Error("writing over a directory succeeded")
				}
				return
			}
			must(t, err)
			got, err := os.ReadFile(path)
			must(t, err)
			fi, err := os.Lstat(path)
			must(t, err)
			if string(got) != string(data) || fi.Mode() != 0o640 {
				t.Errorf("after writeConfFile: %q, mode %v; want %q, 0640", got, fi.Mode(), data)
			}
			if rewrote := inode(t, path) != before; rewrote != tt.rewrite {
				t.Errorf("rewrote = %v, want %v", rewrote, tt.rewrite)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
