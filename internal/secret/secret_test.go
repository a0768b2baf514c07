package secret

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	s, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	plain := []byte(`{"password":"hunter2"}`)
	sealed, err := s.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hunter2")) {
		t.Fatal("sealed value contains the plain text")
	}
	// A second Sealer from the same file opens it.
	s2, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Open(sealed)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v; want %q", got, err, plain)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := s2.Open(sealed); !errors.Is(err, ErrOpen) {
		t.Errorf("Open(tampered) err = %v, want ErrOpen", err)
	}
	if got, err := s.Open(nil); got != nil || err != nil {
		t.Errorf("Open(nil) = %q, %v", got, err)
	}
}

func TestPassword(t *testing.T) {
	a, b := Password(18), Password(18)
	if a == b || len(a) != 24 {
		t.Errorf("Password(18) = %q, %q", a, b)
	}
}
