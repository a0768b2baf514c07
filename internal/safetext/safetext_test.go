package safetext

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestIsUnsafe(t *testing.T) {
	unsafe := []rune{0x00, 0x07, '\t', '\n', '\r', 0x1b, 0x1f, 0x7f, 0x80, 0x85, 0x9b, 0x9f,
		0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069}
	safe := []rune{' ', 'a', '~', 0xa0, 0xe9, 0x200b, 0x200d, 0x2028, 0x2029, 0x2070, 0x2065, 0xfeff, 0xfffd, 0x1f642}
	for _, r := range unsafe {
		if !IsUnsafe(r) {
			t.Errorf("IsUnsafe(%U) = false, want true", r)
		}
	}
	for _, r := range safe {
		if IsUnsafe(r) {
			t.Errorf("IsUnsafe(%U) = true, want false", r)
		}
	}
	// Every Cc character is unsafe.
	for r := rune(0); r <= 0x10FFFF; r++ {
		if unicode.Is(unicode.Cc, r) && !IsUnsafe(r) {
			t.Errorf("IsUnsafe(%U) = false for a Cc character", r)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		in      string
		wantOK  bool
		wantR   rune
		wantOff int
	}{
		{"", true, 0, 0},
		{"db-1 é 🙂 \ufffd", true, 0, 0},
		{"a\x00b", false, 0, 1},
		{"a\u202eb\x1b[31m", false, 0x202e, 1},
		{"ab\x1b[31m", false, 0x1b, 2},
		{"x\u0085", false, 0x85, 1},
		{"x\x7f", false, 0x7f, 1},
		{"x\u2066y", false, 0x2066, 1},
		{"é\xff", false, utf8.RuneError, 2},
	}
	for _, tt := range tests {
		err := Check(tt.in)
		if tt.wantOK {
			if err != nil {
				t.Errorf("Check(%q) = %v, want nil", tt.in, err)
			}
			continue
		}
		var ue *UnsafeError
		if !errors.As(err, &ue) || ue.Rune != tt.wantR || ue.Offset != tt.wantOff {
			t.Errorf("Check(%q) = %v, want rune %U at %d", tt.in, err, tt.wantR, tt.wantOff)
		}
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain db-1", "plain db-1"},
		{`back\slash é 🙂`, `back\slash é 🙂`},
		{"a\x00b\u202e\x1b[31m", `a\x00b\u202e\x1b[31m`},
		{"tab\tnl\ncr\r", `tab\tnl\ncr\r`},
		{"c1 \u009b2J del \x7f", `c1 \u009b2J del \x7f`},
		{"mark \u200f \u061c \u2069", `mark \u200f \u061c \u2069`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUnsafeErrorMessage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a\x1b", "safetext: U+001B at byte 1 is a control character"},
		{"a\u202e", "safetext: U+202E at byte 1 is a bidirectional formatting character"},
		{"\xff", "safetext: invalid UTF-8 at byte 0"},
	}
	for _, tt := range tests {
		if err := Check(tt.in); err == nil || err.Error() != tt.want {
			t.Errorf("Check(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "db", "a\x00b\u202e\x1b[31m", "\xff", "\u009b", "é🙂"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Escape(s)
		if err := Check(got); err != nil {
			t.Fatalf("Escape(%q) = %q, which Check refuses: %v", s, got, err)
		}
		if Check(s) == nil && got != s {
			t.Fatalf("Escape(%q) = %q, changed safe text", s, got)
		}
		if strings.ContainsRune(got, 0x1b) {
			t.Fatalf("Escape(%q) kept an ESC", s)
		}
	})
}
