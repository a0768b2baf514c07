package mariadb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/hoard-db/hoard/internal/datastore"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    datastore.Version
		wantErr bool
	}{
		{in: "mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)\n",
			want: datastore.Version{Name: "10.11", Version: "10.11.19"}},
		{in: "mysqld  Ver 10.5.23-MariaDB-0+deb11u1 for debian-linux-gnu on x86_64 (Debian 11)",
			want: datastore.Version{Name: "10.5", Version: "10.5.23"}},
		{in: "/usr/sbin/mariadbd  Ver 11.4.2-MariaDB for Linux on aarch64 (MariaDB Server)",
			want: datastore.Version{Name: "11.4", Version: "11.4.2"}},
		{in: "mariadbd Ver 10.011.007-MariaDB", want: datastore.Version{Name: "10.11", Version: "10.11.7"}},
		{in: "/usr/sbin/mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)", wantErr: true},
		{in: "", wantErr: true},
		{in: "Ver 10.11-MariaDB", wantErr: true},
		{in: "mariadbd  Ver 99999.1.1-MariaDB", wantErr: true},
		{in: "garbage\x00\xff", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVersion(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseVersion(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseVersion(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

var versionOutRE = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

func FuzzParseVersion(f *testing.F) {
	f.Add("mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)")
	f.Add("mysqld  Ver 8.0.36 for Linux")
	f.Add("Ver 0.0.0-MariaDB")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		if !versionOutRE.MatchString(v.Name) {
			t.Fatalf("ParseVersion(%q).Name = %q, not major.minor", s, v.Name)
		}
		if len(v.Version) <= len(v.Name) || v.Version[:len(v.Name)+1] != v.Name+"." {
			t.Fatalf("ParseVersion(%q) = %+v: Version does not extend Name", s, v)
		}
	})
}

func TestDiscoverNotInstalled(t *testing.T) {
	e := New(Config{BinDir: t.TempDir()})
	if _, err := e.Discover(context.Background()); !errors.Is(err, datastore.ErrNotInstalled) {
		t.Errorf("Discover in an empty BinDir: err = %v, want ErrNotInstalled", err)
	}
}

// TestDiscoverFake runs Discover against a script standing in for mariadbd.
func TestDiscoverFake(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\necho 'mariadbd  Ver 10.6.18-MariaDB-0ubuntu0.22.04.1 for debian-linux-gnu on x86_64 (Ubuntu 22.04)'\n"
	if err := os.WriteFile(filepath.Join(dir, "mariadbd"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := New(Config{BinDir: dir}).Discover(context.Background())
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	want := []datastore.Version{{Name: "10.6", Version: "10.6.18"}}
	if len(got) != 1 || got[0] != want[0] {
		t.Errorf("Discover = %+v, want %+v", got, want)
	}
}

func TestEngineIdentity(t *testing.T) {
	e := New(Config{})
	if e.Name() != "mariadb" || e.DefaultPort() != 3306 || e.AdminUser() != "os_admin" {
		t.Errorf("identity = %q %d %q", e.Name(), e.DefaultPort(), e.AdminUser())
	}
	if ds := e.Datastores(); len(ds) != 2 || ds[0] != "mysql" || ds[1] != "mariadb" {
		t.Errorf("Datastores() = %v, want [mysql mariadb]", ds)
	}
}

func TestUnreachableClassifier(t *testing.T) {
	e := New(Config{})
	tests := []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("exec: %w", driver.ErrBadConn), true},
		{mysql.ErrInvalidConn, true},
		{&mysql.MySQLError{Number: 1045, Message: "Access denied"}, false},
	}
	for _, tt := range tests {
		if got := datastore.Unreachable(e, tt.err); got != tt.want {
			t.Errorf("Unreachable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
