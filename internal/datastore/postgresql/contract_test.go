package postgresql

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/admintest"
)

// TestContract runs the engine-admin contract suite against a real
// postgres.
func TestContract(t *testing.T) {
	srv := startServer(t)
	admin := srv.socketConn(adminUser, adminPassword)
	workMem := func(ctx context.Context) (string, error) {
		conn, err := adminConn(ctx, admin, maintenanceDB)
		if err != nil {
			return "", err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		var v string
		err = conn.QueryRow(ctx, "SHOW work_mem").Scan(&v)
		return v, err
	}
	admintest.Run(t, admintest.Harness{
		Engine: srv.engine,
		Server: srv.Server,
		Admin:  admin,
		Client: contractClient{srv},
		// ALTER SYSTEM writes postgresql.auto.conf, which the engine's
		// Prepare empties before every start.
		Runtime: &admintest.Runtime{
			Set: func(ctx context.Context) error {
				conn, err := adminConn(ctx, admin, maintenanceDB)
				if err != nil {
					return err
				}
				defer conn.Close(context.WithoutCancel(ctx))
				if _, err := conn.Exec(ctx, "ALTER SYSTEM SET work_mem = '7MB'"); err != nil {
					return err
				}
				return srv.engine.ApplyDynamic(ctx, admin, map[string]string{"work_mem": "7168"})
			},
			IsSet: func(ctx context.Context) (bool, error) {
				v, err := workMem(ctx)
				return v == "7MB", err
			},
		},
	})
}

// contractClient acts as PostgreSQL roles over TCP.
type contractClient struct{ srv *testServer }

func (c contractClient) connect(ctx context.Context, user string, pw datastore.Secret, db string) (*pgx.Conn, error) {
	return connect(ctx, c.srv.tcpConn(user, pw), user, pw, db, opDialTimeout)
}

// Login connects to the maintenance database: a role without CONNECT
// there has still logged in when the refusal is insufficient_privilege.
func (c contractClient) Login(ctx context.Context, user string, pw datastore.Secret) error {
	conn, err := c.connect(ctx, user, pw, maintenanceDB)
	if sqlState(err) == "42501" {
		return nil
	}
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

func (c contractClient) Write(ctx context.Context, user string, pw datastore.Secret, db string) error {
	conn, err := c.connect(ctx, user, pw, db)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS ct_t (id int)"); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "INSERT INTO ct_t VALUES (1)")
	return err
}

// Privileged creates and drops a role: only a holder of CREATEROLE may.
func (c contractClient) Privileged(ctx context.Context, user string, pw datastore.Secret) error {
	conn, err := c.connect(ctx, user, pw, maintenanceDB)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, q := range []string{"CREATE ROLE ct_probe", "DROP ROLE ct_probe"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}
