package redis

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// This file implements the optional capabilities datastore.UserAdmin and
// datastore.RootAdmin over ACL users. Redis has no databases in the Trove
// sense, so the Engine does not implement datastore.DatabaseAdmin (the
// service answers 501), and GrantAccess and RevokeAccess fail with
// fault.NotImplemented. Names reach the server only as separate command
// arguments after validation, passwords only as SHA-256 hashes; every ACL
// change is saved to the aclfile (ACL SAVE) so that it survives a restart.
//
// ACL users are not per host: the only host is "%" ("" means "%"), any
// other is refused with fault.Invalid, and users are listed with host "%".

var (
	_ datastore.UserAdmin = (*Engine)(nil)
	_ datastore.RootAdmin = (*Engine)(nil)
)

// rootUser is the ACL user root enable creates, with every permission
// ("~* &* +@all"). hoard leaves the default user disabled: giving it the
// password instead (requirepass style) would let a one-argument AUTH in
// as a superuser, and root could not be disabled without touching what
// unauthenticated clients are.
const rootUser = "root"

// rootRules are root's ACL rules: every key, channel and command but the
// ACL commands that change or reveal users (SETUSER, DELUSER, LIST, SAVE,
// LOAD, GETUSER, DRYRUN), so that root can never change or remove hoard's
// account, nor read its password hash; it may still ask who it is and
// what categories exist. Nor may root lift or shorten a fence
// (switchover.go): CLIENT PAUSE and UNPAUSE, SHUTDOWN (the driver would
// start the server again, unpaused) and FAILOVER (a topology change that
// is hoard's). CONFIG's protected settings (dir, dbfilename) and DEBUG and
// MODULE stay refused by the server configuration.
var rootRules = []string{"~*", "&*", "+@all", "-acl", "+acl|whoami", "+acl|cat", "+acl|genpass", "+acl|help",
	"-client|pause", "-client|unpause", "-shutdown", "-failover"}

// anyHost is the host every Redis user is shown with.
const anyHost = "%"

// userNotFound is the 404 for a missing user.
func userNotFound(op, name string) error {
	return fault.Wrap(fault.NotFound, op,
		fmt.Sprintf("User %s@%s cannot be found on the instance.", name, anyHost), datastore.ErrUserNotFound)
}

// hiddenUser reports whether an ACL user is never shown.
func hiddenUser(name string) bool { return slices.Contains(reservedUsers, strings.ToLower(name)) }

// aclUser is what ACL GETUSER tells of a user: its password hashes (hex
// SHA-256); nil if the user does not exist.
type aclUser struct{ passwords []string }

var sha256HexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// getUser runs ACL GETUSER; (nil, nil) when the user does not exist.
func getUser(ctx context.Context, cl *client, name string) (*aclUser, error) {
	v, err := cl.do(ctx, "ACL", "GETUSER", name)
	if err != nil {
		return nil, fmt.Errorf("redis: look up user: %w", err)
	}
	if v == nil {
		return nil, nil
	}
	fields, ok := v.([]any)
	if !ok || len(fields)%2 != 0 {
		return nil, fmt.Errorf("redis: look up user: %w: unexpected ACL GETUSER reply", errProtocol)
	}
	u := &aclUser{}
	for i := 0; i < len(fields); i += 2 {
		if k, _ := fields[i].(string); k == "passwords" {
			pws, _ := fields[i+1].([]any)
			for _, p := range pws {
				if s, ok := p.(string); ok && sha256HexRE.MatchString(s) {
					u.passwords = append(u.passwords, s)
				}
			}
		}
	}
	return u, nil
}

// checkUser validates an addressed user (name and host).
func checkUser(name, host string) error {
	if err := ValidateUserName(name); err != nil {
		return err
	}
	return ValidateHost(host)
}

// openExisting validates name@host, connects as the admin and checks that
// the user exists.
func openExisting(ctx context.Context, c datastore.Conn, op, name, host string) (*client, *aclUser, error) {
	if err := checkUser(name, host); err != nil {
		return nil, nil, err
	}
	cl, err := admin(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	u, err := getUser(ctx, cl, name)
	if err == nil && u == nil {
		err = userNotFound(op, name)
	}
	if err != nil {
		cl.Close()
		return nil, nil, err
	}
	return cl, u, nil
}

// save runs ACL SAVE.
func save(ctx context.Context, cl *client, what string) error {
	if _, err := cl.do(ctx, "ACL", "SAVE"); err != nil {
		return fmt.Errorf("redis: %s: save ACLs: %w", what, err)
	}
	return nil
}

// ListUsers implements datastore.UserAdmin: every ACL user but the
// reserved ones, with host "%" and no databases, sorted by name.
func (e *Engine) ListUsers(ctx context.Context, c datastore.Conn) ([]datastore.UserInfo, error) {
	cl, err := admin(ctx, c)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	v, err := cl.do(ctx, "ACL", "USERS")
	if err != nil {
		return nil, fmt.Errorf("redis: list users: %w", err)
	}
	names, ok := v.([]any)
	if !ok && v != nil {
		return nil, fmt.Errorf("redis: list users: %w: unexpected ACL USERS reply", errProtocol)
	}
	var out []datastore.UserInfo
	for _, n := range names {
		if s, ok := n.(string); ok && !hiddenUser(s) && s != c.User {
			out = append(out, datastore.UserInfo{Name: s, Host: anyHost})
		}
	}
	slices.SortFunc(out, func(a, b datastore.UserInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// GetUser implements datastore.UserAdmin.
func (e *Engine) GetUser(ctx context.Context, c datastore.Conn, name, host string) (datastore.UserInfo, error) {
	cl, _, err := openExisting(ctx, c, "redis.get_user", name, host)
	if err != nil {
		return datastore.UserInfo{}, err
	}
	cl.Close()
	return datastore.UserInfo{Name: name, Host: anyHost}, nil
}

// UpdateUser implements datastore.UserAdmin. ACL has no rename: a rename
// creates the new user with the tenant rules (and replicaDeny on a
// replica) and the old user's password hashes (so its password still
// works), then deletes the old user, which disconnects its clients. A new name that is taken is a fault.Invalid
// error; the host can only be "%". A new password replaces every old one.
func (e *Engine) UpdateUser(ctx context.Context, c datastore.Conn, name, host string, ch datastore.UserChange) error {
	const op = "redis.update_user"
	if ch.Name != "" {
		if err := ValidateUserName(ch.Name); err != nil {
			return err
		}
	}
	if err := ValidateHost(ch.Host); err != nil {
		return err
	}
	if ch.Password != "" {
		if err := ValidatePassword(string(ch.Password)); err != nil {
			return err
		}
	}
	cl, u, err := openExisting(ctx, c, op, name, host)
	if err != nil {
		return err
	}
	defer cl.Close()
	target := name
	if ch.Name != "" && ch.Name != name {
		taken, err := getUser(ctx, cl, ch.Name)
		if err != nil {
			return err
		}
		if taken != nil {
			return fault.Errorf(fault.Invalid, op, "A user with the name \"%s\" already exists.", ch.Name)
		}
		extra, err := roleExtra(ctx, cl)
		if err != nil {
			return fmt.Errorf("redis: rename user: %w", err)
		}
		args := []string{"ACL", "SETUSER", ch.Name, "reset", "on"}
		for _, p := range u.passwords {
			args = append(args, "#"+p)
		}
		args = append(append(args, tenantRules...), extra...)
		if _, err := cl.do(ctx, args...); err != nil {
			return fmt.Errorf("redis: rename user: %w", err)
		}
		if _, err := cl.do(ctx, "ACL", "DELUSER", name); err != nil {
			return fmt.Errorf("redis: rename user: delete the old name: %w", err)
		}
		target = ch.Name
	}
	if ch.Password != "" {
		if _, err := cl.do(ctx, "ACL", "SETUSER", target, "resetpass", hashedPassword(ch.Password)); err != nil {
			return fmt.Errorf("redis: set password: %w", err)
		}
	}
	if err := save(ctx, cl, "update user"); err != nil {
		return err
	}
	e.log.Debug("user updated", "user", name, "renamed", target != name, "password", ch.Password != "")
	return nil
}

// DeleteUser implements datastore.UserAdmin: ACL DELUSER, which also
// disconnects the user's clients.
func (e *Engine) DeleteUser(ctx context.Context, c datastore.Conn, name, host string) error {
	cl, _, err := openExisting(ctx, c, "redis.delete_user", name, host)
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := cl.do(ctx, "ACL", "DELUSER", name); err != nil {
		return fmt.Errorf("redis: delete user: %w", err)
	}
	if err := save(ctx, cl, "delete user"); err != nil {
		return err
	}
	e.log.Debug("user dropped", "user", name)
	return nil
}

// GrantAccess implements datastore.UserAdmin: Redis has no databases, so
// it fails with fault.NotImplemented (501).
func (e *Engine) GrantAccess(context.Context, datastore.Conn, string, string, []string) error {
	return notSupported("redis.grant_access", "databases")
}

// RevokeAccess implements datastore.UserAdmin: Redis has no databases, so
// it fails with fault.NotImplemented (501).
func (e *Engine) RevokeAccess(context.Context, datastore.Conn, string, string, string) error {
	return notSupported("redis.revoke_access", "databases")
}

// RootUser implements datastore.RootAdmin.
func (e *Engine) RootUser() string { return rootUser }

// EnableRoot implements datastore.RootAdmin: the ACL user root with
// rootRules (and replicaDeny on a replica) and the hash of password (reset
// if it exists).
func (e *Engine) EnableRoot(ctx context.Context, c datastore.Conn, password datastore.Secret) error {
	if err := ValidatePassword(string(password)); err != nil {
		return err
	}
	cl, err := admin(ctx, c)
	if err != nil {
		return err
	}
	defer cl.Close()
	extra, err := roleExtra(ctx, cl)
	if err != nil {
		return fmt.Errorf("redis: enable root: %w", err)
	}
	args := append([]string{"ACL", "SETUSER", rootUser, "reset", "on", hashedPassword(password)}, rootRules...)
	args = append(args, extra...)
	if _, err := cl.do(ctx, args...); err != nil {
		return fmt.Errorf("redis: enable root: %w", err)
	}
	if err := save(ctx, cl, "enable root"); err != nil {
		return err
	}
	e.log.Debug("root enabled")
	return nil
}

// DisableRoot implements datastore.RootAdmin: ACL DELUSER root, which
// disconnects its clients; idempotent.
func (e *Engine) DisableRoot(ctx context.Context, c datastore.Conn) error {
	cl, err := admin(ctx, c)
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := cl.do(ctx, "ACL", "DELUSER", rootUser); err != nil {
		return fmt.Errorf("redis: disable root: %w", err)
	}
	if err := save(ctx, cl, "disable root"); err != nil {
		return err
	}
	e.log.Debug("root disabled")
	return nil
}

// RootEnabled implements datastore.RootAdmin: whether the ACL user root
// exists.
func (e *Engine) RootEnabled(ctx context.Context, c datastore.Conn) (bool, error) {
	cl, err := admin(ctx, c)
	if err != nil {
		return false, err
	}
	defer cl.Close()
	u, err := getUser(ctx, cl, rootUser)
	return u != nil, err
}
