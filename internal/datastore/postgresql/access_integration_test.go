package postgresql

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// loginFrom logs in to srv over TCP as hoard's admin account from the
// source address src, and returns the error (nil: logged in).
func loginFrom(t *testing.T, srv *testServer, src string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = srv.Spec.Address, uint16(srv.Spec.Port), adminUser, string(adminPassword), maintenanceDB
	cfg.TLSConfig, cfg.Fallbacks = nil, nil
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	cfg.DialFunc = d.DialContext
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		_ = c.Close(ctx)
	}
	return err
}

// TestAccessReload: pg_hba.conf rendered with AllowedSources refuses a
// login from outside them ("no pg_hba.conf entry") and lets one in from
// them; ReloadAccess applies a new list to the running server, and an
// empty list opens it again. The server listens on 127.0.0.1, which is
// always admitted (hoard's own connections): the clients come from
// 127.0.0.2 and 127.0.0.3.
func TestAccessReload(t *testing.T) {
	srv := startServer(t)
	ctx := testCtx(t)
	admin := srv.socketConn(adminUser, adminPassword)
	if err := srv.engine.Bootstrap(ctx, admin); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	for _, step := range []struct {
		allowed      []string
		from2, from3 bool
	}{
		{[]string{"127.0.0.2/32"}, true, false},
		{[]string{"127.0.0.3/32", "10.0.0.0/8"}, false, true},
		{nil, true, true},
	} {
		srv.Spec.AllowedSources = nil
		for _, c := range step.allowed {
			srv.Spec.AllowedSources = append(srv.Spec.AllowedSources, netip.MustParsePrefix(c))
		}
		srv.Render(t)
		if err := srv.engine.ReloadAccess(ctx, admin); err != nil {
			t.Fatalf("ReloadAccess %v: %v", step.allowed, err)
		}
		for src, want := range map[string]bool{"127.0.0.2": step.from2, "127.0.0.3": step.from3} {
			err := loginFrom(t, srv, src)
			if want && err != nil {
				t.Errorf("allowed %v: login from %s: %v", step.allowed, src, err)
			}
			if !want && (err == nil || !strings.Contains(err.Error(), "no pg_hba.conf entry")) {
				t.Errorf("allowed %v: login from %s = %v, want no pg_hba.conf entry", step.allowed, src, err)
			}
		}
		if err := loginFrom(t, srv, "127.0.0.1"); err != nil {
			t.Errorf("allowed %v: hoard's login from 127.0.0.1: %v", step.allowed, err)
		}
	}
}
