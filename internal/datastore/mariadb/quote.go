package mariadb

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strings"
	"unicode/utf8"
)

// This file holds the only code that puts text into SQL statements. Every
// name that reaches the server goes through quoteIdent, quoteString or
// quoteAccount, and passwords only as passwordHash.
//
// The string escaping is byte-based and relies on two things the
// connection guarantees (see connect in sql.go): the connection character
// set is utf8mb4, in which the bytes of '\'' and '\\' never occur inside a
// multi-byte character, and the session sql_mode has no
// NO_BACKSLASH_ESCAPES, so a backslash escapes.

// errBadIdent is returned for a name that cannot be an identifier at all.
var errBadIdent = errors.New("mariadb: name cannot be used as an identifier")

// quoteIdent returns name as a backtick-quoted identifier, with backticks
// doubled. MariaDB identifiers cannot be empty, contain U+0000, be invalid
// UTF-8 or use characters outside the Basic Multilingual Plane; such names
// are refused rather than mangled.
func quoteIdent(name string) (string, error) {
	if name == "" || !utf8.ValidString(name) {
		return "", errBadIdent
	}
	for _, r := range name {
		if r == 0 || r > 0xFFFF {
			return "", errBadIdent
		}
	}
	return "`" + strings.ReplaceAll(name, "`", "``") + "`", nil
}

// quoteString returns s as a single-quoted SQL string literal. Quotes are
// doubled and backslash, NUL, newline, carriage return and Ctrl-Z escaped
// (the set mysql_real_escape_string escapes), so the literal is one line
// and ends exactly where intended.
func quoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			b.WriteString("''")
		case '\\':
			b.WriteString(`\\`)
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// quoteAccount returns the account 'user'@'host'.
func quoteAccount(user, host string) string {
	return quoteString(user) + "@" + quoteString(host)
}

// grantDatabase returns the database part of GRANT ... ON <db>.*: in a
// database-level grant '_' and '%' are wildcards (a grant on `a_b` also
// opens `aXb`), so they, and the escape character itself, are escaped to
// stand for themselves before quoting.
func grantDatabase(name string) (string, error) {
	if _, err := quoteIdent(name); err != nil {
		return "", err
	}
	r := strings.NewReplacer(`\`, `\\`, `_`, `\_`, `%`, `\%`)
	return quoteIdent(r.Replace(name))
}

// passwordHash returns the mysql_native_password hash of password as used
// by IDENTIFIED BY PASSWORD: '*' and the upper-case hex of
// SHA1(SHA1(password)). It consists of '*' and hex digits only, so it is
// safe in a literal, and the server never sees the password itself (not in
// the general log, not in the processlist).
func passwordHash(password string) string {
	h1 := sha1.Sum([]byte(password))
	h2 := sha1.Sum(h1[:])
	return "*" + strings.ToUpper(hex.EncodeToString(h2[:]))
}
