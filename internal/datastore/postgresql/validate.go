package postgresql

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// The rules below follow PostgreSQL's identifiers (NAMEDATALEN-1 = 63
// bytes; longer names are silently truncated by the server, so they are
// refused here) and Trove's PostgreSQL guest (reserved databases and roles).
// hoard always quotes identifiers, but keeps names to a conservative set
// so that they are easy to use unquoted-ish from every client: letters,
// digits, '_', '$' and '-', not starting with '$' or '-'. Every failure is
// a fault.Invalid error with a public message; passwords are never echoed.

const opValidate = "postgresql.validate"

// maxIdentifier is the longest PostgreSQL identifier, in bytes.
const maxIdentifier = 63

// maxPassword bounds a password.
const maxPassword = 255

var reservedDatabases = []string{"postgres", "template0", "template1"}

// reservedUsers are initdb's superuser, hoard's admin, the network
// superuser root enable creates, the account replicas log in with, and
// the names PostgreSQL does not allow as role names.
var reservedUsers = []string{"postgres", adminUser, rootUser, replicationUser, "public", "none", "current_user", "session_user", "current_role"}

// ReservedDatabases returns the database names tenants can neither create,
// delete nor see.
func ReservedDatabases() []string { return slices.Clone(reservedDatabases) }

// ReservedUsers returns the role names tenants can neither create, delete
// nor see; every name starting with "pg_" is reserved as well.
func ReservedUsers() []string { return slices.Clone(reservedUsers) }

var identRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_$-]*$`)

// ValidateDatabaseName checks a database name: 1–63 bytes of letters,
// digits, '_', '$' and '-' (not first), and not a reserved name.
func ValidateDatabaseName(name string) error {
	switch {
	case name == "":
		return fault.New(fault.Invalid, opValidate, "Database name empty.")
	case len(name) > maxIdentifier:
		return fault.Errorf(fault.Invalid, opValidate,
			"Database name '%s' is too long. Max length = %d.", printable(name), maxIdentifier)
	case !identRE.MatchString(name):
		return fault.Errorf(fault.Invalid, opValidate, "'%s' is not a valid database name.", printable(name))
	case slices.Contains(reservedDatabases, strings.ToLower(name)):
		return fault.Errorf(fault.Invalid, opValidate,
			"Database name \"%s\" is on the reserved list: %s.", name, pyList(reservedDatabases))
	}
	return nil
}

// ValidateUserName checks a role name: the database name rules, not a
// reserved name and not starting with "pg_".
func ValidateUserName(name string) error {
	switch {
	case name == "":
		return fault.New(fault.Invalid, opValidate, "User name empty.")
	case len(name) > maxIdentifier:
		return fault.Errorf(fault.Invalid, opValidate,
			"User name '%s' is too long. Max length = %d.", printable(name), maxIdentifier)
	case !identRE.MatchString(name):
		return fault.Errorf(fault.Invalid, opValidate, "'%s' is not a valid user name.", printable(name))
	case slices.Contains(reservedUsers, strings.ToLower(name)) || strings.HasPrefix(strings.ToLower(name), "pg_"):
		return fault.Errorf(fault.Invalid, opValidate,
			"User name \"%s\" is on the reserved list: %s and names starting with 'pg_'.", name, pyList(reservedUsers))
	}
	return nil
}

// ValidateHost checks a user's host: PostgreSQL roles are not per host
// (pg_hba.conf decides where from), so only "" and "%" are accepted.
func ValidateHost(host string) error {
	if host == "" || host == "%" {
		return nil
	}
	return fault.Errorf(fault.Invalid, opValidate,
		"'%s' is not a valid hostname: PostgreSQL users are not limited by host; use '%%' or leave it out.", printable(host))
}

// ValidatePassword checks a password: 1–255 printable ASCII characters
// without leading or trailing blank. (ASCII only, so that the verifier
// hoard computes is the one the server would; see scram.go.)
func ValidatePassword(password string) error {
	if password == "" {
		return fault.New(fault.Invalid, opValidate, "User password empty.")
	}
	ok := len(password) <= maxPassword && password[0] != ' ' && password[len(password)-1] != ' '
	for i := 0; ok && i < len(password); i++ {
		ok = password[i] >= 0x20 && password[i] < 0x7f
	}
	if !ok {
		return fault.Errorf(fault.Invalid, opValidate,
			"The password is not valid: it must be 1-%d printable ASCII characters with no leading or trailing blank.", maxPassword)
	}
	return nil
}

// encodingRE and collationRE are what encoding and locale names look like
// (e.g. "UTF8", "LATIN1", "C", "C.UTF-8", "en_US.utf8", "de_DE@euro");
// whether the server knows them is checked when the database is created.
var (
	encodingRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,31}$`)
	collationRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.@-]{0,127}$`)
)

// ValidateDatabase implements datastore.Validator: the name rules and the
// shape of the encoding (CharacterSet) and collation names.
func (e *Engine) ValidateDatabase(db datastore.Database) error {
	if err := ValidateDatabaseName(db.Name); err != nil {
		return err
	}
	if db.CharacterSet != "" && !encodingRE.MatchString(db.CharacterSet) {
		return fault.Errorf(fault.Invalid, opValidate, "'%s' not a valid character set.", printable(db.CharacterSet))
	}
	if db.Collate != "" && !collationRE.MatchString(db.Collate) {
		return fault.Errorf(fault.Invalid, opValidate, "'%s' not a valid collation.", printable(db.Collate))
	}
	return nil
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
	for _, db := range u.Databases {
		if err := ValidateDatabaseName(db); err != nil {
			return err
		}
	}
	return nil
}

// printable returns s for an error message: invalid UTF-8 and
// non-printable characters become U+FFFD, and it is cut at 100 characters.
func printable(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == 100 {
			b.WriteString("...")
			break
		}
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// pyList formats names the way Trove's messages show a Python list.
func pyList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("'%s'", n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
