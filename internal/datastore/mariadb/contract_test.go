package mariadb

import (
	"context"
	"fmt"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/admintest"
)

// TestContract runs the engine-admin contract suite against a real
// mariadbd.
func TestContract(t *testing.T) {
	srv := startServer(t)
	cl := contractClient{srv}
	admin := srv.socketConn(adminUser, adminPassword)
	admintest.Run(t, admintest.Harness{
		Engine: srv.engine,
		Server: srv.Server,
		Admin:  admin,
		Client: cl,
		Runtime: &admintest.Runtime{
			Set: func(ctx context.Context) error {
				return srv.engine.ApplyDynamic(ctx, admin, map[string]string{"max_connections": "77"})
			},
			IsSet: func(ctx context.Context) (bool, error) {
				s, err := open(ctx, admin, admin.User, admin.Password, opTimeouts)
				if err != nil {
					return false, err
				}
				defer s.Close()
				var n int
				err = s.conn.QueryRowContext(ctx, "SELECT @@GLOBAL.max_connections").Scan(&n)
				return n == 77, err
			},
		},
	})
}

// contractClient acts as MariaDB users over TCP.
type contractClient struct{ srv *testServer }

// session logs in as user.
func (c contractClient) session(ctx context.Context, user string, pw datastore.Secret) (*session, error) {
	return open(ctx, c.srv.tcpConn(user, pw), user, pw, opTimeouts)
}

func (c contractClient) Login(ctx context.Context, user string, pw datastore.Secret) error {
	s, err := c.session(ctx, user, pw)
	if err != nil {
		return err
	}
	return s.Close()
}

func (c contractClient) Write(ctx context.Context, user string, pw datastore.Secret, db string) error {
	q, err := quoteIdent(db)
	if err != nil {
		return err
	}
	s, err := c.session(ctx, user, pw)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+q+".ct_t (id INT)"); err != nil {
		return err
	}
	_, err = s.conn.ExecContext(ctx, "INSERT INTO "+q+".ct_t VALUES (1)")
	return err
}

// Privileged creates and drops a user: only a holder of CREATE USER may.
func (c contractClient) Privileged(ctx context.Context, user string, pw datastore.Secret) error {
	s, err := c.session(ctx, user, pw)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, q := range []string{"CREATE USER 'ct_probe'@'%'", "DROP USER 'ct_probe'@'%'"} {
		if _, err := s.conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}
