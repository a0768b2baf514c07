package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestFilesPrivate checks that the database and its WAL files are readable
// by their owner only, also for a database made before (mode 0644).
func TestFilesPrivate(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		pre  bool
	}{{"new", false}, {"existing 0644", true}} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".db")
			if tt.pre {
				if err := os.WriteFile(path, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v, want 0600", p, fi.Mode().Perm())
				}
			}
		})
	}
}
