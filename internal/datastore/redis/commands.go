package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// Timeouts for a readiness probe and for operations.
const (
	pingDial  = 2 * time.Second
	pingIO    = 2 * time.Second
	opDial    = 5 * time.Second
	opTimeout = 30 * time.Second
)

// tenantRules are the ACL rules of a tenant user: all keys and channels,
// every command except the @admin category (ACL, CONFIG, DEBUG, SHUTDOWN,
// MONITOR, SAVE, REPLICAOF, ...), but with CONFIG GET and CONFIG SET, whose
// changes a restart erases.
var tenantRules = []string{"~*", "&*", "+@all", "-@admin", "+config|get", "+config|set"}

// adminRules are os_admin's: everything.
var adminRules = []string{"~*", "&*", "+@all"}

// hashedPassword is the ACL form of a password: '#' and its SHA-256 in hex,
// so that the plain password is not sent in ACL SETUSER.
func hashedPassword(pw datastore.Secret) string {
	sum := sha256.Sum256([]byte(pw))
	return "#" + hex.EncodeToString(sum[:])
}

// PingAsAdmin implements datastore.AdminPinger.
func (e *Engine) PingAsAdmin() bool { return true }

// Ping implements datastore.Engine. It sends PING, after AUTH as c.User
// when c has a password: PONG, and the NOAUTH/WRONGPASS/NOPERM refusals of
// a server that runs with ACLs, count as alive; LOADING (the dataset is
// still being read) and BUSY do not. Only an authenticated PING is told
// LOADING: Redis refuses an unauthenticated one with NOAUTH first.
func (e *Engine) Ping(ctx context.Context, c datastore.Conn) error {
	cl, err := dial(ctx, c, pingDial, pingIO)
	if err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	defer cl.Close()
	// With credentials, authenticate first: Redis answers an
	// unauthenticated PING with NOAUTH even while it still loads its
	// dataset, and an authenticated one with LOADING until it can serve.
	// AUTH itself is allowed while loading.
	if c.User != "" && c.Password != "" {
		// A refusal (the account is not there yet, before bootstrap) leaves
		// the connection unauthenticated: the PING below then tells as
		// before.
		if _, err := cl.do(ctx, "AUTH", c.User, string(c.Password)); err != nil && errCode(err) == "" {
			return fmt.Errorf("redis: ping: %w", err)
		}
	}
	v, err := cl.do(ctx, "PING")
	switch errCode(err) {
	case "NOAUTH", "WRONGPASS", "NOPERM":
		return nil
	}
	if err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	if v != "PONG" {
		return fmt.Errorf("redis: ping: unexpected reply %.40q", fmt.Sprint(v))
	}
	return nil
}

// admin connects to c and authenticates as c.User with c.Password.
func admin(ctx context.Context, c datastore.Conn) (*client, error) {
	cl, err := dial(ctx, c, opDial, opTimeout)
	if err != nil {
		return nil, err
	}
	if _, err := cl.do(ctx, "AUTH", c.User, string(c.Password)); err != nil {
		cl.Close()
		if code := errCode(err); code == "WRONGPASS" || code == "NOPERM" {
			return nil, fmt.Errorf("redis: authenticate as %q: %w: %w", c.User, datastore.ErrAdminLost, err)
		}
		return nil, err
	}
	return cl, nil
}

// Bootstrap implements datastore.Engine. It connects over c.Socket (TCP if
// empty) and authenticates as c.User (default os_admin) if that works
// (bootstrapped before), else stays the default user, which has no
// password right after the first start. Then it (re)creates c.User with
// all permissions and the hash of c.Password, authenticates as it,
// disables the default user (no password, no permissions, off) and saves
// the ACLs to the aclfile.
func (e *Engine) Bootstrap(ctx context.Context, c datastore.Conn) error {
	const op = "redis.bootstrap"
	if c.User == "" {
		c.User = adminUser
	}
	if c.Password == "" {
		return fault.New(fault.Invalid, op, "the administrative password must not be empty")
	}
	cl, err := dial(ctx, c, opDial, opTimeout)
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := cl.do(ctx, "AUTH", c.User, string(c.Password)); err != nil {
		if errCode(err) != "WRONGPASS" {
			return err
		}
		e.log.Debug("bootstrap: as the default user (first run)")
	}
	args := append([]string{"ACL", "SETUSER", c.User, "reset", "on", hashedPassword(c.Password)}, adminRules...)
	if _, err := cl.do(ctx, args...); err != nil {
		return fmt.Errorf("redis: bootstrap: admin user: %w", err)
	}
	if _, err := cl.do(ctx, "AUTH", c.User, string(c.Password)); err != nil {
		return fmt.Errorf("redis: bootstrap: authenticate as admin: %w", err)
	}
	if _, err := cl.do(ctx, "ACL", "SETUSER", "default", "reset"); err != nil {
		return fmt.Errorf("redis: bootstrap: disable default user: %w", err)
	}
	if _, err := cl.do(ctx, "ACL", "SAVE"); err != nil {
		return fmt.Errorf("redis: bootstrap: %w", err)
	}
	return nil
}

// notSupported is the fault for a Trove call Redis has no equivalent of.
func notSupported(op, what string) error {
	return fault.Errorf(fault.NotImplemented, op, "The '%s' operation is not supported for the 'redis' datastore.", what)
}

// CreateUsers implements datastore.Engine. Each user becomes an ACL user
// with tenantRules (and replicaDeny on a replica) and the hash of its
// password (a repeat resets the user and so changes its password); then
// the ACLs are saved to the aclfile.
func (e *Engine) CreateUsers(ctx context.Context, c datastore.Conn, users []datastore.User) error {
	for _, u := range users {
		if err := validateUser(u); err != nil {
			return err
		}
	}
	cl, err := admin(ctx, c)
	if err != nil {
		return err
	}
	defer cl.Close()
	extra, err := roleExtra(ctx, cl)
	if err != nil {
		return fmt.Errorf("redis: create user: %w", err)
	}
	for _, u := range users {
		args := append([]string{"ACL", "SETUSER", u.Name, "reset", "on", hashedPassword(u.Password)}, tenantRules...)
		args = append(args, extra...)
		if _, err := cl.do(ctx, args...); err != nil {
			return fmt.Errorf("redis: create user: %w", err)
		}
		e.log.Debug("user created", "user", u.Name)
	}
	if _, err := cl.do(ctx, "ACL", "SAVE"); err != nil {
		return fmt.Errorf("redis: create user: %w", err)
	}
	return nil
}
