package engineproc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVersionOutput(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := script("good", `[ "$1" = --version ] && echo "prog v=1.2.3"`)
	bad := script("bad", `echo "no such option" >&2; exit 2`)
	slow := script("slow", `exec sleep 60`)
	tests := []struct {
		name, bin string
		timeout   time.Duration
		want      string
		check     func(error) bool
	}{
		{"prints", good, 10 * time.Second, "prog v=1.2.3\n", func(err error) bool { return err == nil }},
		{"missing", filepath.Join(dir, "missing"), 10 * time.Second, "", NotFound},
		{"fails", bad, 10 * time.Second, "", func(err error) bool {
			return err != nil && strings.Contains(err.Error(), bad+" --version: exit status 2 (no such option)")
		}},
		{"context ends", slow, 50 * time.Millisecond, "", func(err error) bool { return err == context.DeadlineExceeded }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			got, err := VersionOutput(ctx, tt.bin)
			if got != tt.want || !tt.check(err) {
				t.Errorf("VersionOutput = %q, %v", got, err)
			}
		})
	}
}
