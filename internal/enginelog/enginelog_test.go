package enginelog

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/backup"
)

func TestStatusOf(t *testing.T) {
	f := func(size int64, header string) FileState {
		return FileState{Exists: size > 0, Size: size, Header: header}
	}
	m := func(size int64, header string) Meta { return Meta{Size: size, Header: header} }
	tests := []struct {
		name                       string
		on, switching, readable    bool
		file                       FileState
		meta                       Meta
		want                       Status
		wantPublished, wantPending int64
	}{
		{"off", false, false, true, f(10, "a"), m(0, ""), StatusDisabled, 0, 10},
		{"off, published", false, false, true, f(10, "a"), m(10, "a"), StatusDisabled, 10, 0},
		{"switching", true, true, true, f(0, ""), m(0, ""), StatusRestartRequired, 0, 0},
		{"on, empty", true, false, true, f(0, ""), m(0, ""), StatusEnabled, 0, 0},
		{"on, unreadable", true, false, false, f(0, ""), m(0, ""), StatusUnavailable, 0, 0},
		{"ready", true, false, true, f(10, "a"), m(0, ""), StatusReady, 0, 10},
		{"partial", true, false, true, f(15, "a"), m(10, "a"), StatusPartial, 10, 5},
		{"published", true, false, true, f(10, "a"), m(10, "a"), StatusPublished, 10, 0},
		{"rotated, smaller", true, false, true, f(4, "a"), m(10, "a"), StatusRotated, 10, 4},
		{"rotated, other first line", true, false, true, f(30, "b"), m(10, "a"), StatusRotated, 10, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, pub, pend := StatusOf(tt.on, tt.switching, tt.readable, tt.file, tt.meta)
			if st != tt.want || pub != tt.wantPublished || pend != tt.wantPending {
				t.Errorf("StatusOf = %s, %d, %d; want %s, %d, %d", st, pub, pend, tt.want, tt.wantPublished, tt.wantPending)
			}
		})
	}
}

// read returns what is published of id, part after part.
func read(t *testing.T, st backup.Storage, m Meta) string {
	t.Helper()
	var b strings.Builder
	for _, p := range m.Parts {
		rc, err := st.Get(t.Context(), Container+"/"+p.Key)
		if err != nil {
			t.Fatalf("Get part %s: %v", p.Key, err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if int64(len(data)) != p.Bytes || strings.Count(string(data), "\n") != p.Lines {
			t.Errorf("part %s: %d bytes, %d lines; metafile says %d, %d", p.Key, len(data), strings.Count(string(data), "\n"), p.Bytes, p.Lines)
		}
		b.Write(data)
	}
	return b.String()
}

// TestPublish publishes a log three times (the first lines, then new
// ones with an unfinished last line, then after a rotation) and discards
// it, checking the parts and the metafile each time.
func TestPublish(t *testing.T) {
	ctx := t.Context()
	st, err := backup.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tick := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	p := Publisher{Storage: st, Now: func() time.Time { tick = tick.Add(time.Second); return tick }}
	id := Ident{InstanceID: "i1", Engine: "mariadb", Log: "general"}
	path := filepath.Join(t.TempDir(), "general.log")

	m, err := p.Publish(ctx, id, "USER", path)
	if err != nil || m.Size != 0 || len(m.Parts) != 0 {
		t.Fatalf("Publish(missing file) = %+v, %v; want nothing published", m, err)
	}
	if err := os.WriteFile(path, []byte("one\ntwo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err = p.Publish(ctx, id, "USER", path)
	if err != nil || m.Size != 8 || read(t, st, m) != "one\ntwo\n" {
		t.Fatalf("Publish = %+v, %v; want 8 bytes", m, err)
	}
	appendTo(t, path, "three\nunfini")
	m, err = p.Publish(ctx, id, "USER", path)
	if err != nil || m.Size != 14 || read(t, st, m) != "one\ntwo\nthree\n" || len(m.Parts) != 2 {
		t.Fatalf("Publish(more) = %+v, %v; want 14 bytes in 2 parts", m, err)
	}
	if got, err := p.Meta(ctx, id); err != nil || got.Size != 14 || got.Name != "general" || got.File != "general.log" {
		t.Errorf("Meta = %+v, %v; want the published state", got, err)
	}
	fs, err := Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if s, _, pend := StatusOf(true, false, true, fs, m); s != StatusPartial || pend != 6 {
		t.Errorf("StatusOf after Publish = %s, pending %d; want Partial, 6", s, pend)
	}

	// Rotated: the old parts go, the new file is published from its start.
	old := m.Parts
	if err := os.WriteFile(path, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err = p.Publish(ctx, id, "USER", path)
	if err != nil || m.Size != 4 || read(t, st, m) != "new\n" {
		t.Fatalf("Publish(rotated) = %+v, %v; want just the new file", m, err)
	}
	for _, part := range old {
		if _, err := st.Stat(ctx, Container+"/"+part.Key); !errors.Is(err, backup.ErrNotFound) {
			t.Errorf("part %s of the rotated file: Stat = %v, want ErrNotFound", part.Key, err)
		}
	}

	if err := p.Discard(ctx, id); err != nil {
		t.Fatalf("Discard: %v", err)
	}
	if got, err := p.Meta(ctx, id); err != nil || got.Size != 0 || len(got.Parts) != 0 {
		t.Errorf("Meta after Discard = %+v, %v; want empty", got, err)
	}
	if err := p.Discard(ctx, id); err != nil {
		t.Errorf("Discard again = %v, want nil", err)
	}
}

func TestCut(t *testing.T) {
	long := strings.Repeat("x", PartBytes+10)
	tests := []struct {
		name, in string
		want     int
	}{
		{"empty", "", -1},
		{"unfinished", "abc", -1},
		{"lines", "a\nb\nc", 4},
		{"long line", long, PartBytes},
		{"long, with a line end", "a\n" + long, 2},
	}
	for _, tt := range tests {
		got := cut([]byte(tt.in))
		if (got == nil && tt.want != -1) || (got != nil && len(got) != tt.want) {
			t.Errorf("cut(%s) = %d bytes, want %d", tt.name, len(got), tt.want)
		}
	}
}

func TestStatRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "secret")
	if err := os.WriteFile(target, []byte("s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "general.log")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Stat(link); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Stat(symbolic link) = %v, want ErrNotRegular", err)
	}
	p := Publisher{Storage: mustDir(t)}
	if _, err := p.Publish(context.Background(), Ident{"i", "e", "l"}, "SYS", link); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Publish(symbolic link) = %v, want ErrNotRegular", err)
	}
	if fs, err := Stat(filepath.Join(dir, "missing")); err != nil || fs.Exists {
		t.Errorf("Stat(missing) = %+v, %v; want not existing, no error", fs, err)
	}
}

func mustDir(t *testing.T) *backup.Dir {
	t.Helper()
	st, err := backup.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestPartTime(t *testing.T) {
	base := time.Date(2026, 12, 6, 19, 29, 36, 123456789, time.UTC)
	tests := []struct {
		key  string
		want time.Time
	}{
		{"i1/mariadb-general/log-20261206T192936.123456789Z-0000", base},
		{"i1/mariadb-general/log-20261206T192936.123456789Z-0002", base.Add(2 * time.Microsecond)},
		{"i1/mariadb-general/other", time.Time{}},
		{"log-2026", time.Time{}},
		{"i1/x-y/log-20261206T192936.123456789Z-zz", time.Time{}},
	}
	for _, tt := range tests {
		if got := PartTime(tt.key); !got.Equal(tt.want) {
			t.Errorf("PartTime(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestSplitPrefix(t *testing.T) {
	tests := []struct {
		prefix, inst, meta string
		ok                 bool
	}{
		{"i1/mariadb-general/", "i1", "i1/mariadb-general_metafile", true},
		{"i1/redis-server/", "i1", "i1/redis-server_metafile", true},
		{"i1/mariadb-general", "", "", false},
		{"i1/", "", "", false},
		{"/mariadb-general/", "", "", false},
		{"i1/a/b-c/", "", "", false},
		{"i1/nodash/", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		inst, meta, ok := SplitPrefix(tt.prefix)
		if inst != tt.inst || meta != tt.meta || ok != tt.ok {
			t.Errorf("SplitPrefix(%q) = %q, %q, %v; want %q, %q, %v", tt.prefix, inst, meta, ok, tt.inst, tt.meta, tt.ok)
		}
	}
}
