package engineproc

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFind(t *testing.T) {
	bin, fallback, empty := t.TempDir(), t.TempDir(), t.TempDir()
	write := func(dir, name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	inBin := write(bin, "prog", 0o755)
	write(bin, "plain", 0o644)
	inFallback := write(fallback, "other", 0o755)
	if err := os.Mkdir(filepath.Join(fallback, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	tests := []struct {
		name, binDir, prog string
		fallbacks          []string
		want               string
	}{
		{"bin dir", bin, "prog", nil, inBin},
		{"bin dir only", empty, "prog", nil, ""},
		{"bin dir: not executable", bin, "plain", nil, ""},
		{"bin dir: no fallback", bin, "other", []string{fallback}, ""},
		{"PATH", "", "prog", []string{fallback}, inBin},
		{"fallback after PATH", "", "other", []string{empty, fallback}, inFallback},
		{"a directory is no program", "", "dir", []string{fallback}, ""},
		{"nowhere", "", "missing", []string{fallback}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Find(tt.binDir, tt.prog, tt.fallbacks); got != tt.want {
				t.Errorf("Find(%q, %q) = %q, want %q", tt.binDir, tt.prog, got, tt.want)
			}
		})
	}
}
