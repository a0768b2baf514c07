package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

// connectAndCount connects to dsn and counts its user tables.
func connectAndCount(t *testing.T, dsn string) int {
	t.Helper()
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(t.Context(), `SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSharedFreshDatabases(t *testing.T) {
	a, b := DSN(t), DSN(t)
	if a == b {
		t.Fatalf("DSN returned %s twice", a)
	}
	c, err := pgx.Connect(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(t.Context(), `CREATE TABLE x (id int)`); err != nil {
		t.Fatal(err)
	}
	c.Close(context.Background())
	if n := connectAndCount(t, b); n != 0 {
		t.Errorf("second database has %d tables, want 0", n)
	}
	if first, second := Shared(t), Shared(t); first != second {
		t.Error("Shared returned two servers")
	}
}

func TestStartOwnServer(t *testing.T) {
	var dir string
	t.Run("server", func(t *testing.T) {
		s := Start(t)
		dir = s.dir
		if s == Shared(t) {
			t.Fatal("Start returned the shared server")
		}
		if n := connectAndCount(t, s.NewDatabase(t)); n != 0 {
			t.Errorf("new database has %d tables", n)
		}
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("server directory %s still there after the test: %v", dir, err)
	}
}
