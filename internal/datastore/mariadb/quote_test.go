package mariadb

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// unquoteString is a reference lexer for a MariaDB single-quoted string
// literal (sql_mode without NO_BACKSLASH_ESCAPES): it returns the value
// and what follows the closing quote.
func unquoteString(t *testing.T, lit string) (value, rest string) {
	t.Helper()
	if !strings.HasPrefix(lit, "'") {
		t.Fatalf("literal %q does not start with a quote", lit)
	}
	var b strings.Builder
	for i := 1; i < len(lit); i++ {
		switch c := lit[i]; c {
		case '\\':
			if i+1 == len(lit) {
				t.Fatalf("literal %q ends in a backslash", lit)
			}
			i++
			switch e := lit[i]; e {
			case '0':
				b.WriteByte(0)
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 'Z':
				b.WriteByte(0x1a)
			case 'b':
				b.WriteByte('\b')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(e)
			}
		case '\'':
			if i+1 < len(lit) && lit[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return b.String(), lit[i+1:]
		default:
			b.WriteByte(c)
		}
	}
	t.Fatalf("literal %q is not terminated", lit)
	return "", ""
}

// unquoteIdent is a reference lexer for a backtick-quoted identifier.
func unquoteIdent(t *testing.T, q string) (value, rest string) {
	t.Helper()
	if !strings.HasPrefix(q, "`") {
		t.Fatalf("identifier %q does not start with a backtick", q)
	}
	var b strings.Builder
	for i := 1; i < len(q); i++ {
		if q[i] == '`' {
			if i+1 < len(q) && q[i+1] == '`' {
				b.WriteByte('`')
				i++
				continue
			}
			return b.String(), q[i+1:]
		}
		b.WriteByte(q[i])
	}
	t.Fatalf("identifier %q is not terminated", q)
	return "", ""
}

func TestQuoteString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"bob", "'bob'"},
		{"o'brien", "'o''brien'"},
		{`a\b`, `'a\\b'`},
		{`\'`, `'\\'''`},
		{"x'; DROP USER root; --", "'x''; DROP USER root; --'"},
		{"a\x00b", `'a\0b'`},
		{"l1\nl2\r\x1a", `'l1\nl2\r\Z'`},
		{"%", "'%'"},
		{"\xff\xfe", "'\xff\xfe'"},
	}
	for _, tt := range tests {
		if got := quoteString(tt.in); got != tt.want {
			t.Errorf("quoteString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := quoteAccount("o'x", "10.0.0.%"), `'o''x'@'10.0.0.%'`; got != want {
		t.Errorf("quoteAccount = %q, want %q", got, want)
	}
}

func TestQuoteIdent(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{in: "db", want: "`db`"},
		{in: "a`b", want: "`a``b`"},
		{in: "x`; DROP DATABASE mysql; --", want: "`x``; DROP DATABASE mysql; --`"},
		{in: "my db#1", want: "`my db#1`"},
		{in: "ü", want: "`ü`"},
		{in: "", err: true},
		{in: "a\x00b", err: true},
		{in: "\xff", err: true},
		{in: "😀", err: true},
	}
	for _, tt := range tests {
		got, err := quoteIdent(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("quoteIdent(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err != nil && !errors.Is(err, errBadIdent) {
			t.Errorf("quoteIdent(%q) error = %v, want errBadIdent", tt.in, err)
		}
		if got != tt.want {
			t.Errorf("quoteIdent(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestGrantDatabase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"app", "`app`"},
		{"a_b", "`a\\_b`"},
		{"100%", "`100\\%`"},
		{`a\b`, "`a\\\\b`"},
		{"x`y", "`x``y`"},
	}
	for _, tt := range tests {
		got, err := grantDatabase(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("grantDatabase(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := grantDatabase(""); err == nil {
		t.Error("grantDatabase(\"\") succeeded")
	}
}

func TestPasswordHash(t *testing.T) {
	// SELECT PASSWORD('test') on MariaDB 10.11.
	if got, want := passwordHash("test"), "*94BDCEBE19083CE2A1F959FD02F964C7AF4CFC29"; got != want {
		t.Errorf("passwordHash(test) = %q, want %q", got, want)
	}
}

var hashRE = regexp.MustCompile(`^\*[0-9A-F]{40}$`)

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "bob", "o'brien", `\`, "x'; DROP USER root; --", "a\x00b", "\n", "``", "\xff'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lit := quoteString(s)
		got, rest := unquoteString(t, lit)
		if got != s || rest != "" {
			t.Fatalf("quoteString(%q) = %q, which reads back as %q followed by %q", s, lit, got, rest)
		}
		if strings.ContainsAny(lit, "\x00\n\r") {
			t.Fatalf("quoteString(%q) = %q contains a raw NUL or line break", s, lit)
		}
		acct := quoteAccount(s, s)
		u, rest := unquoteString(t, acct)
		if u != s || !strings.HasPrefix(rest, "@") {
			t.Fatalf("quoteAccount(%q) = %q: user part %q, rest %q", s, acct, u, rest)
		}
		if h, rest := unquoteString(t, rest[1:]); h != s || rest != "" {
			t.Fatalf("quoteAccount(%q) = %q: host part %q, rest %q", s, acct, h, rest)
		}
		if q, err := quoteIdent(s); err == nil {
			got, rest := unquoteIdent(t, q)
			if got != s || rest != "" {
				t.Fatalf("quoteIdent(%q) = %q, which reads back as %q followed by %q", s, q, got, rest)
			}
		} else if s != "" && utf8.ValidString(s) && !strings.ContainsRune(s, 0) && !hasSupplementary(s) {
			t.Fatalf("quoteIdent(%q) refused a valid identifier: %v", s, err)
		}
		if g, err := grantDatabase(s); err == nil {
			if _, rest := unquoteIdent(t, g); rest != "" {
				t.Fatalf("grantDatabase(%q) = %q has trailing %q", s, g, rest)
			}
		}
		if h := passwordHash(s); !hashRE.MatchString(h) {
			t.Fatalf("passwordHash(%q) = %q", s, h)
		}
	})
}

func hasSupplementary(s string) bool {
	for _, r := range s {
		if r > 0xFFFF {
			return true
		}
	}
	return false
}
