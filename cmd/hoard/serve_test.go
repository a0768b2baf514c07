package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLockDataDir(t *testing.T) {
	tests := []struct {
		name          string
		first, second bool // shared?
		wantErr       bool
	}{
		{"two replicas on PostgreSQL", true, true, false},
		{"SQLite then a replica", false, true, true},
		{"a replica then SQLite", true, false, true},
		{"two SQLite", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			a, err := lockDataDir(dir, tt.first)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, err := lockDataDir(dir, tt.second)
			if b != nil {
				b.Close()
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("second lockDataDir(shared=%v) = %v, want error %v", tt.second, err, tt.wantErr)
			}
		})
	}
}

func TestNodeID(t *testing.T) {
	dir := t.TempDir()
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ids = map[string]bool{}
	)
	for range 8 { // replicas starting at once agree on one id
		wg.Go(func() {
			id, err := nodeID(dir)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids[id] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(ids) != 1 {
		t.Fatalf("nodeID gave %d ids, want 1: %v", len(ids), ids)
	}
	fi, err := os.Stat(filepath.Join(dir, nodeIDName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("node.id mode %v, want 0600", fi.Mode().Perm())
	}
	again, err := nodeID(dir)
	if err != nil || !ids[again] {
		t.Errorf("nodeID again = %q, %v; want the same id", again, err)
	}
	if err := os.WriteFile(filepath.Join(dir, nodeIDName), []byte("not an id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := nodeID(dir); err == nil {
		t.Error("nodeID accepted a damaged node.id")
	}
}

// settings is an in-memory store.Settings.
type settings struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *settings) InitSetting(_ context.Context, key, value string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[key]; ok {
		return v, nil
	}
	s.m[key] = value
	return value, nil
}

func TestCheckLocalNode(t *testing.T) {
	ctx := t.Context()
	st := &settings{m: map[string]string{}}
	home, other := t.TempDir(), t.TempDir()
	id, err := checkLocalNode(ctx, st, home)
	if err != nil {
		t.Fatal(err)
	}
	if st.m[localNodeSetting] != id {
		t.Errorf("setting %s = %q, want %q", localNodeSetting, st.m[localNodeSetting], id)
	}
	if again, err := checkLocalNode(ctx, st, home); err != nil || again != id {
		t.Errorf("second replica on the same data directory: %q, %v; want %q", again, err, id)
	}
	_, err = checkLocalNode(ctx, st, other)
	if err == nil {
		t.Fatal("a data directory of another node was accepted")
	}
	for _, want := range []string{id, "share its data directory", "--driver kubernetes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
