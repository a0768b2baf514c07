package redis

import (
	"context"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/admintest"
)

// TestContract runs the engine-admin contract suite against a real
// redis-server (no databases: those cases do not apply).
func TestContract(t *testing.T) {
	srv := startServer(t)
	adm := srv.socketConn(adminUser, adminPassword)
	admintest.Run(t, admintest.Harness{
		Engine: srv.engine,
		Server: srv.Server,
		Admin:  adm,
		Client: contractClient{srv},
		// A tenant's CONFIG SET: a restart renders the configuration again.
		Runtime: &admintest.Runtime{
			Set: func(ctx context.Context) error {
				cl, err := admin(ctx, adm)
				if err != nil {
					return err
				}
				defer cl.Close()
				_, err = cl.do(ctx, "CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
				return err
			},
			IsSet: func(ctx context.Context) (bool, error) {
				cl, err := admin(ctx, adm)
				if err != nil {
					return false, err
				}
				defer cl.Close()
				v, err := cl.do(ctx, "CONFIG", "GET", "maxmemory-policy")
				if err != nil {
					return false, err
				}
				kv, _ := v.([]any)
				return len(kv) == 2 && kv[1] == "allkeys-lfu", nil
			},
		},
	})
}

// contractClient acts as Redis ACL users over TCP.
type contractClient struct{ srv *testServer }

// as connects and authenticates as user.
func (c contractClient) as(ctx context.Context, user string, pw datastore.Secret) (*client, error) {
	return admin(ctx, c.srv.tcpConn(user, pw))
}

func (c contractClient) Login(ctx context.Context, user string, pw datastore.Secret) error {
	cl, err := c.as(ctx, user, pw)
	if err != nil {
		return err
	}
	return cl.Close()
}

func (c contractClient) Write(ctx context.Context, user string, pw datastore.Secret, _ string) error {
	cl, err := c.as(ctx, user, pw)
	if err != nil {
		return err
	}
	defer cl.Close()
	_, err = cl.do(ctx, "SET", "ct:key", "v")
	return err
}

// Privileged reads the slow log, an @admin command tenants lack.
func (c contractClient) Privileged(ctx context.Context, user string, pw datastore.Secret) error {
	cl, err := c.as(ctx, user, pw)
	if err != nil {
		return err
	}
	defer cl.Close()
	_, err = cl.do(ctx, "SLOWLOG", "GET", "1")
	return err
}
