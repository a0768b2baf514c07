package backup

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestKeyOfRoundTrip(t *testing.T) {
	dir, err := NewDir(filepath.Join(t.TempDir(), "srv", "backups"))
	if err != nil {
		t.Fatal(err)
	}
	s3, err := NewS3(S3Config{Endpoint: "10.0.0.7:9000", Bucket: "hoard-backups", Prefix: "/prod//eu/"})
	if err != nil {
		t.Fatal(err)
	}
	s3root, err := NewS3(S3Config{Endpoint: "minio.internal:9000", Bucket: "b", Secure: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct {
		name string
		st   Storage
	}{{"dir", dir}, {"s3", s3}, {"s3 without prefix", s3root}} {
		for _, key := range []string{"5f3c9d3e.xbstream.gz", "5f3c9d3e.tar.gz", "a/b.gz"} {
			loc := st.st.Location(key)
			if got, err := st.st.KeyOf(loc); err != nil || got != key {
				t.Errorf("%s: KeyOf(Location(%q) = %q) = %q, %v; want the key", st.name, key, loc, got, err)
			}
		}
	}
}

func TestKeyOfForeign(t *testing.T) {
	root := filepath.Join(t.TempDir(), "backups")
	dir, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	s3, err := NewS3(S3Config{Endpoint: "10.0.0.7:9000", Bucket: "bkt", Prefix: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		st       Storage
		location string
		want     string // "" for an error
		wantErr  error
	}{
		{"dir", dir, "file://" + filepath.ToSlash(root) + "/k.tar.gz", "k.tar.gz", nil},
		{"dir moved", dir, "file:///var/lib/hoard/backups/k.tar.gz", "", ErrForeignLocation},
		{"dir sibling", dir, "file://" + filepath.ToSlash(root) + "-old/k.tar.gz", "", ErrForeignLocation},
		{"dir s3 location", dir, s3.Location("k.tar.gz"), "", ErrForeignLocation},
		{"dir root itself", dir, "file://" + filepath.ToSlash(root) + "/", "", ErrBadKey},
		{"dir partial", dir, "file://" + filepath.ToSlash(root) + "/.partial-k", "", ErrBadKey},
		{"dir escape", dir, "file://" + filepath.ToSlash(root) + "/../k", "", ErrBadKey},
		{"dir empty", dir, "", "", ErrForeignLocation},
		// The endpoint is how hoard reaches the service, not where the
		// object is.
		{"s3 other endpoint", s3, "https://s3.example.com/bkt/prod/k.tar.gz", "k.tar.gz", nil},
		{"s3 other bucket", s3, "http://10.0.0.7:9000/other/prod/k.tar.gz", "", ErrForeignLocation},
		{"s3 other prefix", s3, "http://10.0.0.7:9000/bkt/test/k.tar.gz", "", ErrForeignLocation},
		{"s3 dir location", s3, dir.Location("k.tar.gz"), "", ErrForeignLocation},
		{"s3 not a URL", s3, "%zz", "", ErrForeignLocation},
		{"s3 empty", s3, "", "", ErrForeignLocation},
	}
	for _, tt := range tests {
		got, err := tt.st.KeyOf(tt.location)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%s: KeyOf(%q) = %q, %v; want %v", tt.name, tt.location, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: KeyOf(%q) = %q, %v; want %q", tt.name, tt.location, got, err, tt.want)
		}
	}
}

func TestKeysFindDeleteAll(t *testing.T) {
	ctx := context.Background()
	st, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string) {
		t.Helper()
		if _, err := st.Put(ctx, key, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, location, ext string
		want                []string
	}{
		{"completed now", st.Location("b1.tar.gz"), ".tar.gz", []string{"b1.tar.gz", "b1.xbstream.gz"}},
		{"completed before", st.Location("b1.xbstream.gz"), ".tar.gz", []string{"b1.xbstream.gz", "b1.tar.gz"}},
		{"not completed", "", ".tar.gz", []string{"b1.tar.gz", "b1.xbstream.gz"}},
		{"engine unknown", "", "", []string{"b1.xbstream.gz"}},
		{"same format", st.Location("b1.xbstream.gz"), ".xbstream.gz", []string{"b1.xbstream.gz"}},
		{"storage moved", "file:///elsewhere/b1.tar.gz", ".tar.gz", []string{"b1.tar.gz", "b1.xbstream.gz"}},
	}
	for _, tt := range tests {
		if got := Keys(st, "b1", tt.location, tt.ext); !slices.Equal(got, tt.want) {
			t.Errorf("Keys(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}

	keys := Keys(st, "b1", "", ".tar.gz")
	if k, err := Find(ctx, st, keys); k != "b1.tar.gz" || !errors.Is(err, ErrNotFound) {
		t.Errorf("Find(none stored) = %q, %v; want the first key and ErrNotFound", k, err)
	}
	put("b1.xbstream.gz") // an artifact of an earlier hoard
	if k, err := Find(ctx, st, keys); k != "b1.xbstream.gz" || err != nil {
		t.Errorf("Find(old artifact) = %q, %v; want b1.xbstream.gz", k, err)
	}
	put("b1.tar.gz")
	if k, err := Find(ctx, st, keys); k != "b1.tar.gz" || err != nil {
		t.Errorf("Find(both) = %q, %v; want b1.tar.gz", k, err)
	}
	put("b2.tar.gz")
	if err := DeleteAll(ctx, st, keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, err := st.Stat(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Errorf("Stat(%s) after DeleteAll = %v, want ErrNotFound", k, err)
		}
	}
	if _, err := st.Stat(ctx, "b2.tar.gz"); err != nil {
		t.Errorf("DeleteAll removed another backup's artifact: %v", err)
	}
	if err := DeleteAll(ctx, st, []string{"ok.gz", "../bad"}); !errors.Is(err, ErrBadKey) {
		t.Errorf("DeleteAll(bad key) = %v, want ErrBadKey", err)
	}
}
