package local

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestRotateLogs checks that a log over the bound keeps its last bytes in
// the ".1" generation and is emptied, that smaller logs, kept generations
// and symbolic links are left alone, and that a writer in append mode
// goes on at the new end.
func TestRotateLogs(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "general.log")
	w, err := os.OpenFile(big, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(bytes.Repeat([]byte("a"), 60)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "error.log")
	if err := os.WriteFile(small, []byte("short\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "server.log.1")
	if err := os.WriteFile(old, bytes.Repeat([]byte("x"), 100), 0o640); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(target, bytes.Repeat([]byte("y"), 100), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "link.log")); err != nil {
		t.Fatal(err)
	}

	if err := rotateLogs(dir, 10); err != nil {
		t.Fatalf("rotateLogs: %v", err)
	}
	tests := []struct {
		path, want string
	}{
		{big + ".1", "0123456789"},
		{big, ""},
		{small, "short\n"},
		{old, string(bytes.Repeat([]byte("x"), 100))},
		{target, string(bytes.Repeat([]byte("y"), 100))},
	}
	for _, tt := range tests {
		got, err := os.ReadFile(tt.path)
		if err != nil || string(got) != tt.want {
			t.Errorf("after rotateLogs, %s = %q, %v; want %q", filepath.Base(tt.path), got, err, tt.want)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "link.log.1")); err == nil {
		t.Errorf("rotateLogs rotated a symbolic link")
	}
	if _, err := w.Write([]byte("next\n")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(big); string(got) != "next\n" {
		t.Errorf("an appending writer after rotation left %q, want %q", got, "next\n")
	}
	if err := rotateLogs(filepath.Join(dir, "missing"), 10); err != nil {
		t.Errorf("rotateLogs(missing dir) = %v, want nil", err)
	}
}
