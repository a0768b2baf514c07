package mariadb

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hoard-db/hoard/internal/fault"
)

// The rules below are Trove's for the MySQL family (trove/common/db/mysql/
// models.py MySQLSchema and MySQLUser, with the Kilo messages the reference
// recommends; shared/api/cloud-databases-v1.md §11, §12.3). Where Trove
// leans on Python's repr() to refuse a name ("contains a backslash once
// printed"), that means: no backslash, no control or other non-printable
// character and valid UTF-8; we spell that out with unicode.IsPrint.
//
// Every failure is a fault.Invalid error whose public message is Trove's.
// Names in messages are passed through printable, so an error never
// carries control characters or invalid UTF-8; passwords are never echoed.

const opValidate = "mariadb.validate"

// Limits from Trove's MySQL models and API schema.
const (
	maxDatabaseName = 64
	maxUserName     = 16
	maxPassword     = 255
	maxHost         = 255 // the width of mysql.user.Host
)

var reservedDatabases = []string{
	"#mysql50#lost+found", "information_schema", "lost+found", "mysql", "performance_schema", "sys",
}

// reservedUsers are Trove's ignore_users, MariaDB's own system account and
// hoard's replication account (replUser), sorted.
var reservedUsers = []string{"mariadb.sys", "os_admin", "os_repl", "root"}

// ReservedDatabases returns the database names tenants can neither create,
// delete nor see: Trove's ignore_dbs for MySQL (Kilo and HEAD together).
func ReservedDatabases() []string { return slices.Clone(reservedDatabases) }

// ReservedUsers returns the user names tenants can neither create, delete
// nor see: Trove's ignore_users (root, os_admin), mariadb.sys, the account
// MariaDB's system views run as, and os_repl, the account replicas log in
// to their source with.
func ReservedUsers() []string { return slices.Clone(reservedUsers) }

// databaseNameRE is Trove's MySQLSchema.dbname with the middle run limited
// to ASCII space, '?', '#' and '@': Python's \s would allow other blanks,
// but Trove's repr() check then refuses all of them except the space.
var databaseNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+[ ?#@]*[A-Za-z0-9_-]+$`)

// ValidateDatabaseName checks a database name for create and delete: 1–64
// characters, letters, digits, '_' and '-', with one run of spaces, '?',
// '#' or '@' allowed only in the middle, and not a reserved name.
func ValidateDatabaseName(name string) error {
	switch {
	case name == "":
		return fault.New(fault.Invalid, opValidate, "Database name empty.")
	case utf8.RuneCountInString(name) > maxDatabaseName:
		return fault.Errorf(fault.Invalid, opValidate,
			"Database name '%s' is too long. Max length = %d.", printable(name), maxDatabaseName)
	case !databaseNameRE.MatchString(name):
		return fault.Errorf(fault.Invalid, opValidate, "'%s' is not a valid database name.", printable(name))
	case slices.Contains(reservedDatabases, name):
		return fault.Errorf(fault.Invalid, opValidate,
			"Database name \"%s\" is on the reserved list: %s.", name, pyList(reservedDatabases))
	}
	return nil
}

// forbiddenChars may not appear in user names and passwords (Trove
// MySQLUser.not_supported_chars).
const forbiddenChars = "'\";`,/\\"

// validString is Trove's MySQLUser._is_valid_string plus the API schema's
// "at least one letter or digit".
func validString(s string) bool {
	if s == "" || !utf8.ValidString(s) || strings.ContainsAny(s, forbiddenChars) {
		return false
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return false
	}
	alnum := false
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			alnum = true
		}
	}
	return alnum
}

// ValidateUserName checks a user name: 1–16 characters, at least one ASCII
// letter or digit, no leading or trailing blank, none of ' " ; ` , / \, no
// control characters, and not a reserved name.
func ValidateUserName(name string) error {
	switch {
	case name == "":
		return fault.New(fault.Invalid, opValidate, "User name empty.")
	case utf8.RuneCountInString(name) > maxUserName:
		return fault.Errorf(fault.Invalid, opValidate,
			"User name '%s' is too long. Max length = %d.", printable(name), maxUserName)
	case !validString(name):
		return fault.Errorf(fault.Invalid, opValidate, "'%s' is not a valid user name.", printable(name))
	case slices.Contains(reservedUsers, name):
		return fault.Errorf(fault.Invalid, opValidate,
			"User name \"%s\" is on the reserved list: %s.", name, pyList(reservedUsers))
	}
	return nil
}

// ValidateHost checks a user's host. "" (the caller's default) and "%" are
// valid; otherwise, as in Trove with hostname_require_valid_ip, the host
// with every '%' replaced by '1' must be an IP address (so "10.0.0.%" is
// valid). MariaDB also matches "ip/netmask" (IPv4, e.g.
// "10.0.0.0/255.255.255.0"), which is accepted; CIDR prefixes such as
// "10.0.0.0/8", which Trove HEAD accepts, are refused because MariaDB
// 10.11 would store them as a literal host that never matches.
func ValidateHost(host string) error {
	if host == "" || host == "%" {
		return nil
	}
	bad := fault.Errorf(fault.Invalid, opValidate, "'%s' is not a valid hostname.", printable(host))
	if len(host) > maxHost {
		return bad
	}
	ip, mask, hasMask := strings.Cut(host, "/")
	a, err := netip.ParseAddr(strings.ReplaceAll(ip, "%", "1"))
	if err != nil || a.Zone() != "" {
		return bad
	}
	if hasMask {
		m, err := netip.ParseAddr(mask)
		if err != nil || !a.Is4() || !m.Is4() || !isNetmask(m) {
			return bad
		}
	}
	return nil
}

// isNetmask reports whether m is a contiguous IPv4 netmask.
func isNetmask(m netip.Addr) bool {
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	inv := ^v
	return inv&(inv+1) == 0
}

// ValidatePassword checks a password with the user name rules (Trove
// applies the same ones) and at most 255 characters. The error never
// contains the password.
func ValidatePassword(password string) error {
	if password == "" {
		return fault.New(fault.Invalid, opValidate, "User password empty.")
	}
	if utf8.RuneCountInString(password) > maxPassword || !validString(password) {
		return fault.Errorf(fault.Invalid, opValidate,
			"The password is not valid: it must be 1-%d printable characters with at least one letter or digit, "+
				"no leading or trailing blank, and none of ' \" ; ` , / \\", maxPassword)
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
