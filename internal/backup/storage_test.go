package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDirPutGetStatDelete(t *testing.T) {
	ctx := context.Background()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.Put(ctx, "a/b.gz", strings.NewReader("hello"))
	if err != nil || n != 5 {
		t.Fatalf("Put = %d, %v; want 5, nil", n, err)
	}
	if sz, err := d.Stat(ctx, "a/b.gz"); err != nil || sz != 5 {
		t.Errorf("Stat = %d, %v; want 5, nil", sz, err)
	}
	rc, err := d.Get(ctx, "a/b.gz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello" {
		t.Errorf("Get = %q, want hello", b)
	}
	if err := d.Delete(ctx, "a/b.gz"); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, "a/b.gz"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
	if _, err := d.Get(ctx, "a/b.gz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(deleted) = %v, want ErrNotFound", err)
	}
	if _, err := d.Stat(ctx, "a/b.gz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat(deleted) = %v, want ErrNotFound", err)
	}
	if !strings.HasPrefix(d.Location("x"), "file:///") {
		t.Errorf("Location = %q, want a file URL", d.Location("x"))
	}
}

func TestBadKeys(t *testing.T) {
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"", "/abs", "a/../b", "..", ".hidden", "a//b", "a/", "sp ace", "a\x00b"} {
		if _, err := d.Put(context.Background(), k, strings.NewReader("x")); !errors.Is(err, ErrBadKey) {
			t.Errorf("Put(%q) = %v, want ErrBadKey", k, err)
		}
	}
}

// failingReader fails after some bytes, like an engine that dies.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("engine died")
	}
	m := min(len(p), f.n)
	f.n -= m
	return m, nil
}

func TestPartialPutLeavesNothing(t *testing.T) {
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Put(context.Background(), "k", &failingReader{n: 1000}); err == nil {
		t.Fatal("Put of a failing reader succeeded")
	}
	ents, _ := os.ReadDir(root)
	if len(ents) != 0 {
		t.Errorf("files left after a failed Put: %v", ents)
	}
	// A crash leaves a partial file: NewDir removes it.
	if err := os.WriteFile(filepath.Join(root, tmpPrefix+"k.123"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDir(root); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("partial file survived NewDir: %v", ents)
	}
}

func TestWriteVerifyOpen(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("hoard backup "), 10000)
	sum, err := Write(ctx, d, "b1", func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.RawSize != int64(len(data)) || sum.Size <= 0 || sum.Size >= sum.RawSize || len(sum.Checksum) != 64 {
		t.Errorf("Write = %+v, want compressed size, raw size %d and a sha256", sum, len(data))
	}
	if err := Verify(ctx, d, "b1", sum.Checksum); err != nil {
		t.Errorf("Verify = %v", err)
	}
	rc, err := Open(ctx, d, "b1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("Open read %d bytes, %v; want the original %d", len(got), err, len(data))
	}
	// Corrupt one byte: Verify fails with ErrCorrupt.
	p := filepath.Join(root, "b1")
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, d, "b1", sum.Checksum); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Verify(corrupted) = %v, want ErrCorrupt", err)
	}
	if err := Verify(ctx, d, "missing", sum.Checksum); !errors.Is(err, ErrNotFound) {
		t.Errorf("Verify(missing) = %v, want ErrNotFound", err)
	}
	// A producer that fails leaves nothing.
	if _, err := Write(ctx, d, "b2", func(w io.Writer) error { w.Write(data); return errors.New("tool failed") }); err == nil {
		t.Error("Write with a failing producer succeeded")
	}
	if _, err := d.Stat(ctx, "b2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat after failed Write = %v, want ErrNotFound", err)
	}
}

func FuzzCheckKey(f *testing.F) {
	for _, s := range []string{"a", "a/b.gz", "../x", ".x", "a//b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if checkKey(key) != nil {
			return
		}
		// An accepted key stays inside the root.
		root := "/r"
		p := filepath.Join(root, filepath.FromSlash(key))
		if !strings.HasPrefix(p, root+"/") {
			t.Errorf("key %q escapes the root: %s", key, p)
		}
	})
}

// TestNewDirLeavesPutInProgress checks that NewDir of a second Dir on the
// same root (another hoard sharing the data directory) does not remove the
// temporary file of a Put that is still writing, and that the Put then
// completes.
func TestNewDirLeavesPutInProgress(t *testing.T) {
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := d.Put(context.Background(), "k", pr)
		done <- err
	}()
	if _, err := pw.Write([]byte("first half ")); err != nil { // returns once Put has read it
		t.Fatal(err)
	}
	if _, err := NewDir(root); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write([]byte("second half")); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("Put after another NewDir: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(root, "k"))
	if err != nil || string(got) != "first half second half" {
		t.Fatalf("artifact = %q, %v", got, err)
	}
}
