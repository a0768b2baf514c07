package redis

import (
	"regexp"
	"slices"
	"strings"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

const opValidate = "redis.validate"

const maxUserName, maxPassword = 64, 255

// reservedUsers are Redis's default user, hoard's admin, the network
// superuser root enable creates and the account replicas log in to a
// source with (replication.go).
var reservedUsers = []string{"default", adminUser, rootUser, replUser}

// ReservedUsers returns the ACL user names tenants can neither create nor
// see.
func ReservedUsers() []string { return slices.Clone(reservedUsers) }

// userNameRE keeps ACL user names to a set that survives the aclfile's
// space-separated format and needs no quoting anywhere.
var userNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.@-]*$`)

// ValidateUserName checks an ACL user name: 1–64 letters, digits and
// _.@- (not starting with . @ -), not one of the reserved users.
func ValidateUserName(name string) error {
	switch {
	case name == "":
		return fault.New(fault.Invalid, opValidate, "User name empty.")
	case len(name) > maxUserName:
		return fault.Errorf(fault.Invalid, opValidate, "User name is too long. Max length = %d.", maxUserName)
	case !userNameRE.MatchString(name):
		return fault.New(fault.Invalid, opValidate, "User name is not valid: use letters, digits and _.@- only.")
	case slices.Contains(reservedUsers, strings.ToLower(name)):
		return fault.Errorf(fault.Invalid, opValidate, "User name \"%s\" is on the reserved list: ['default', 'os_admin', 'root', 'os_replicator'].", name)
	}
	return nil
}

// ValidatePassword checks a password: 1–255 printable ASCII characters
// without leading or trailing blank (only its hash reaches the server).
func ValidatePassword(pw string) error {
	if pw == "" {
		return fault.New(fault.Invalid, opValidate, "User password empty.")
	}
	ok := len(pw) <= maxPassword && pw[0] != ' ' && pw[len(pw)-1] != ' '
	for i := 0; ok && i < len(pw); i++ {
		ok = pw[i] >= 0x20 && pw[i] < 0x7f
	}
	if !ok {
		return fault.Errorf(fault.Invalid, opValidate,
			"The password is not valid: it must be 1-%d printable ASCII characters with no leading or trailing blank.", maxPassword)
	}
	return nil
}

// ValidateHost checks a user's host: ACL users are not per host, so only
// "" and "%" are accepted.
func ValidateHost(host string) error {
	if host == "" || host == "%" {
		return nil
	}
	return fault.New(fault.Invalid, opValidate, "Redis users are not limited by host; use '%' or leave it out.")
}

// ValidateDatabase implements datastore.Validator: Redis has no databases,
// so any database is refused with fault.NotImplemented (501), at once.
func (e *Engine) ValidateDatabase(datastore.Database) error {
	return notSupported("redis.validate", "databases")
}

// ValidateUser implements datastore.Validator.
func (e *Engine) ValidateUser(u datastore.User) error { return validateUser(u) }

func validateUser(u datastore.User) error {
	if err := ValidateUserName(u.Name); err != nil {
		return err
	}
	if err := ValidateHost(u.Host); err != nil {
		return err
	}
	if err := ValidatePassword(string(u.Password)); err != nil {
		return err
	}
	if len(u.Databases) > 0 {
		return notSupported("redis.validate", "databases")
	}
	return nil
}
