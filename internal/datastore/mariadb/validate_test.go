package mariadb

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/hoard-db/hoard/internal/fault"
)

// check runs one validator case: want "" means valid, else the exact
// public message.
func check(t *testing.T, fn string, validate func(string) error, in, want string) {
	t.Helper()
	err := validate(in)
	switch {
	case want == "" && err != nil:
		t.Errorf("%s(%q) = %v, want nil", fn, in, err)
	case want != "" && err == nil:
		t.Errorf("%s(%q) = nil, want %q", fn, in, want)
	case err != nil:
		if !fault.Is(err, fault.Invalid) {
			t.Errorf("%s(%q) = %v, not fault.Invalid", fn, in, err)
		}
		if got := fault.Message(err); got != want {
			t.Errorf("%s(%q) message = %q, want %q", fn, in, got, want)
		}
	}
}

func TestValidateDatabaseName(t *testing.T) {
	reserved := `['#mysql50#lost+found', 'information_schema', 'lost+found', 'mysql', 'performance_schema', 'sys']`
	tests := []struct{ in, want string }{
		{"app", ""},
		{"ab", ""},
		{"my_db-2", ""},
		{"my db", ""},
		{"a?#@ b", ""},
		{"--", ""},
		{strings.Repeat("d", 64), ""},
		{"", "Database name empty."},
		{strings.Repeat("d", 65), "Database name '" + strings.Repeat("d", 65) + "' is too long. Max length = 64."},
		{"a", "'a' is not a valid database name."},
		{" ab", "' ab' is not a valid database name."},
		{"ab ", "'ab ' is not a valid database name."},
		{"a.b", "'a.b' is not a valid database name."},
		{"a`b", "'a`b' is not a valid database name."},
		{"a'b", "'a'b' is not a valid database name."},
		{`a\b`, `'a\b' is not a valid database name.`},
		{"a;b", "'a;b' is not a valid database name."},
		{"x`; DROP DATABASE mysql; --", "'x`; DROP DATABASE mysql; --' is not a valid database name."},
		{"a\x00b", "'a\uFFFDb' is not a valid database name."},
		{"a\nb", "'a\uFFFDb' is not a valid database name."},
		{"a\tb", "'a\uFFFDb' is not a valid database name."},
		{"a\u00a0b", "'a\uFFFDb' is not a valid database name."},
		{"ab\n", "'ab\uFFFD' is not a valid database name."},
		{"a\xffb", "'a\uFFFDb' is not a valid database name."},
		{"dbü", "'dbü' is not a valid database name."},
		{"a%b", "'a%b' is not a valid database name."},
		{"mysql", `Database name "mysql" is on the reserved list: ` + reserved + "."},
		{"information_schema", `Database name "information_schema" is on the reserved list: ` + reserved + "."},
		{"performance_schema", `Database name "performance_schema" is on the reserved list: ` + reserved + "."},
		{"sys", `Database name "sys" is on the reserved list: ` + reserved + "."},
		{"lost+found", "'lost+found' is not a valid database name."},
		{"MYSQL", ""}, // lower_case_table_names=0: a different database
	}
	for _, tt := range tests {
		check(t, "ValidateDatabaseName", ValidateDatabaseName, tt.in, tt.want)
	}
}

func TestValidateUserName(t *testing.T) {
	reserved := `['mariadb.sys', 'os_admin', 'os_repl', 'root']`
	tests := []struct{ in, want string }{
		{"bob", ""},
		{"b", ""},
		{"dbuser1", ""},
		{"a b", ""},
		{"a@b", ""},
		{"a.b", ""},
		{"a%b", ""},
		{"a-- b", ""},
		{"üser1", ""},
		{strings.Repeat("u", 16), ""},
		{"", "User name empty."},
		{strings.Repeat("u", 17), "User name '" + strings.Repeat("u", 17) + "' is too long. Max length = 16."},
		{strings.Repeat("ü", 17), "User name '" + strings.Repeat("ü", 17) + "' is too long. Max length = 16."},
		{" bob", "' bob' is not a valid user name."},
		{"bob ", "'bob ' is not a valid user name."},
		{"o'neil", "'o'neil' is not a valid user name."},
		{`a"b`, `'a"b' is not a valid user name.`},
		{"a;b", "'a;b' is not a valid user name."},
		{"a`b", "'a`b' is not a valid user name."},
		{"a,b", "'a,b' is not a valid user name."},
		{"a/b", "'a/b' is not a valid user name."},
		{`a\b`, `'a\b' is not a valid user name.`},
		{"a\x00b", "'a\uFFFDb' is not a valid user name."},
		{"a\nb", "'a\uFFFDb' is not a valid user name."},
		{"a\xffb", "'a\uFFFDb' is not a valid user name."},
		{"@@", "'@@' is not a valid user name."},
		{"üü", "'üü' is not a valid user name."},
		{"root", `User name "root" is on the reserved list: ` + reserved + "."},
		{"os_admin", `User name "os_admin" is on the reserved list: ` + reserved + "."},
		{"mariadb.sys", `User name "mariadb.sys" is on the reserved list: ` + reserved + "."},
		{"os_repl", `User name "os_repl" is on the reserved list: ` + reserved + "."},
	}
	for _, tt := range tests {
		check(t, "ValidateUserName", ValidateUserName, tt.in, tt.want)
	}
}

func TestValidateHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"%", ""},
		{"10.0.0.1", ""},
		{"10.0.0.%", ""},
		{"%.%.%.%", ""},
		{"::1", ""},
		{"2001:db8::%", ""},
		{"10.0.0.0/255.255.255.0", ""},
		{"10.0.0.0/255.0.255.0", "'10.0.0.0/255.0.255.0' is not a valid hostname."},
		{"10.0.0.0/8", "'10.0.0.0/8' is not a valid hostname."},
		{"10.0.0.0/255.255.%.0", "'10.0.0.0/255.255.%.0' is not a valid hostname."},
		{"::1/ffff::", "'::1/ffff::' is not a valid hostname."},
		{"localhost", "'localhost' is not a valid hostname."},
		{"db.example.com", "'db.example.com' is not a valid hostname."},
		{"%%", "'%%' is not a valid hostname."},
		{"10.0.0.1'; DROP USER root; --", "'10.0.0.1'; DROP USER root; --' is not a valid hostname."},
		{"fe80::1%eth0", "'fe80::1%eth0' is not a valid hostname."},
		{"10.0.0.1\n", "'10.0.0.1\uFFFD' is not a valid hostname."},
		{" 10.0.0.1", "' 10.0.0.1' is not a valid hostname."},
	}
	for _, tt := range tests {
		check(t, "ValidateHost", ValidateHost, tt.in, tt.want)
	}
}

func TestValidatePassword(t *testing.T) {
	bad := "The password is not valid: it must be 1-255 printable characters with at least one letter or digit, " +
		"no leading or trailing blank, and none of ' \" ; ` , / \\"
	tests := []struct{ in, want string }{
		{"secret", ""},
		{"p@ss w0rd!#$%^&*()-=+[]{}<>?~|", ""},
		{"x--", ""},
		{"pässwort1", ""},
		{strings.Repeat("p", 255), ""},
		{"", "User password empty."},
		{strings.Repeat("p", 256), bad},
		{" pw1", bad},
		{"pw1 ", bad},
		{"pw'1", bad},
		{`pw"1`, bad},
		{"pw;1", bad},
		{"pw`1", bad},
		{"pw,1", bad},
		{"pw/1", bad},
		{`pw\1`, bad},
		{"pw\x001", bad},
		{"pw\t1", bad},
		{"pw\xff1", bad},
		{"!!!", bad},
	}
	for _, tt := range tests {
		check(t, "ValidatePassword", ValidatePassword, tt.in, tt.want)
	}
}

func TestReservedListsAreCopies(t *testing.T) {
	d := ReservedDatabases()
	d[0] = "x"
	if ReservedDatabases()[0] == "x" {
		t.Error("ReservedDatabases returns the package's own slice")
	}
	u := ReservedUsers()
	u[0] = "x"
	if ReservedUsers()[0] == "x" {
		t.Error("ReservedUsers returns the package's own slice")
	}
	if !slices.Contains(ReservedUsers(), New(Config{}).AdminUser()) {
		t.Error("the admin user is not reserved")
	}
}

var (
	validDBRE   = regexp.MustCompile(`^[A-Za-z0-9_ ?#@-]{2,64}$`)
	validHostRE = regexp.MustCompile(`^[0-9A-Fa-f.:%/]*$`)
)

// assertMessage checks what every validation error must satisfy.
func assertMessage(t *testing.T, fn, in string, err error) {
	t.Helper()
	if !fault.Is(err, fault.Invalid) {
		t.Fatalf("%s(%q) = %v, not fault.Invalid", fn, in, err)
	}
	msg := fault.Message(err)
	if !utf8.ValidString(msg) || strings.IndexFunc(msg, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		t.Fatalf("%s(%q) message %q has invalid UTF-8 or control characters", fn, in, msg)
	}
	if utf8.RuneCountInString(msg) > 400 {
		t.Fatalf("%s(%q) message is %d characters long", fn, in, utf8.RuneCountInString(msg))
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{"app", "my db", "mysql", "root", "o'neil", "x`; DROP DATABASE mysql; --",
		"a\x00b", "10.0.0.%", "10.0.0.0/255.255.255.0", "\xff\xfe", strings.Repeat("a", 300), "pw--", " x "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := ValidateDatabaseName(s); err == nil {
			if !validDBRE.MatchString(s) || slices.Contains(reservedDatabases, s) {
				t.Fatalf("ValidateDatabaseName(%q) accepted it", s)
			}
			if _, err := quoteIdent(s); err != nil {
				t.Fatalf("valid database name %q cannot be quoted: %v", s, err)
			}
		} else {
			assertMessage(t, "ValidateDatabaseName", s, err)
		}
		for _, v := range []struct {
			fn       string
			validate func(string) error
			max      int
		}{{"ValidateUserName", ValidateUserName, 16}, {"ValidatePassword", ValidatePassword, 255}} {
			err := v.validate(s)
			if err != nil {
				assertMessage(t, v.fn, s, err)
				if v.fn == "ValidatePassword" && len(s) > 3 && strings.Contains(fault.Message(err), s) {
					t.Fatalf("ValidatePassword(%q) echoes the password: %q", s, fault.Message(err))
				}
				continue
			}
			if !utf8.ValidString(s) || strings.ContainsAny(s, forbiddenChars) || utf8.RuneCountInString(s) > v.max ||
				strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 ||
				strings.TrimSpace(s) != s || slices.Contains(reservedUsers, s) && v.fn == "ValidateUserName" {
				t.Fatalf("%s(%q) accepted it", v.fn, s)
			}
		}
		if err := ValidateHost(s); err == nil {
			if !validHostRE.MatchString(s) || len(s) > 255 {
				t.Fatalf("ValidateHost(%q) accepted it", s)
			}
		} else {
			assertMessage(t, "ValidateHost", s, err)
		}
	})
}
