package mariadb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
)

func TestParseCheckpoints(t *testing.T) {
	tests := []struct {
		in      string
		want    string // to_lsn
		wantErr bool
	}{
		{"backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 44878\nlast_lsn = 46813\nrecover_binlog_info = 0\n", "44878", false},
		{"backup_type = incremental\nfrom_lsn = 44878\nto_lsn = 44894\n", "44894", false},
		{"backup_type = full-backuped\n", "", true},
		{"to_lsn = 12\n", "", true},
		{"backup_type = x\nto_lsn = 1; DROP\n", "", true},
		{"backup_type = x\nto_lsn = 5\nfrom_lsn = -1\n", "", true},
	}
	for _, tt := range tests {
		m, err := ParseCheckpoints([]byte(tt.in))
		if (err != nil) != tt.wantErr || (err == nil && m[MetaToLSN] != tt.want) {
			t.Errorf("ParseCheckpoints(%q) = %v, %v; want to_lsn %q, error %v", tt.in, m, err, tt.want, tt.wantErr)
		}
	}
}

func TestBackupCnf(t *testing.T) {
	p := filepath.Join(t.TempDir(), "b.cnf")
	c := datastore.Conn{User: "os_admin", Password: `p"w\x`, Socket: "/run/s.sock"}
	if err := writeBackupCnf(p, c, datastore.Spec{DataDir: "/d"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("option file mode %v, %v; want 0600", fi.Mode(), err)
	}
	b, _ := os.ReadFile(p)
	if !strings.Contains(string(b), `password="p\"w\\x"`) || !strings.Contains(string(b), "[mariadb-backup]") {
		t.Errorf("option file:\n%s", b)
	}
	c.Password = "a\nb"
	if err := writeBackupCnf(p, c, datastore.Spec{DataDir: "/d"}); err == nil {
		t.Error("a password with a line break was written")
	}
}

func FuzzParseCheckpoints(f *testing.F) {
	f.Add([]byte("backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 44878\nlast_lsn = 46813\n"))
	f.Add([]byte("to_lsn=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseCheckpoints(b)
		if err != nil {
			return
		}
		if !isDigits(m[MetaToLSN]) || m[MetaBackupType] == "" {
			t.Fatalf("ParseCheckpoints accepted %q: %v", b, m)
		}
	})
}

func FuzzCnfQuote(f *testing.F) {
	f.Add(`pw"\`)
	f.Fuzz(func(t *testing.T, s string) {
		q := cnfQuote(s)
		// Unquote as MariaDB's option parser does and get s back.
		if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
			t.Fatalf("cnfQuote(%q) = %q", s, q)
		}
		var out strings.Builder
		in := q[1 : len(q)-1]
		for i := 0; i < len(in); i++ {
			if in[i] == '\\' && i+1 < len(in) {
				i++
			} else if in[i] == '"' {
				t.Fatalf("cnfQuote(%q) = %q has a bare quote", s, q)
			}
			out.WriteByte(in[i])
		}
		if out.String() != s {
			t.Fatalf("cnfQuote(%q) = %q unquotes to %q", s, q, out.String())
		}
	})
}
