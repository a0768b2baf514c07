package safetext

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// IsUnsafe reports whether r is a control character (Unicode category Cc:
// U+0000–U+001F, U+007F–U+009F) or a bidirectional formatting character:
// the embeddings and overrides U+202A–U+202E, the isolates U+2066–U+2069,
// the marks U+200E, U+200F and U+061C.
func IsUnsafe(r rune) bool {
	switch {
	case unicode.IsControl(r): // exactly Cc
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	}
	return false
}

// UnsafeError reports the first unsafe character of a text: a rune for
// which [IsUnsafe] is true, or a byte that is not valid UTF-8.
type UnsafeError struct {
	// Rune is the character, utf8.RuneError for invalid UTF-8.
	Rune rune
	// Offset is its byte offset in the text.
	Offset int
}

func (e *UnsafeError) Error() string {
	if e.Rune == utf8.RuneError {
		return fmt.Sprintf("safetext: invalid UTF-8 at byte %d", e.Offset)
	}
	return fmt.Sprintf("safetext: %U at byte %d is a %s", e.Rune, e.Offset, kindOf(e.Rune))
}

func kindOf(r rune) string {
	if unicode.IsControl(r) {
		return "control character"
	}
	return "bidirectional formatting character"
}

// Check returns nil if s is valid UTF-8 without unsafe characters, else an
// [*UnsafeError] for the first one.
func Check(s string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return &UnsafeError{Rune: r, Offset: i}
			}
			continue // a literal U+FFFD is fine
		}
		if IsUnsafe(r) {
			return &UnsafeError{Rune: r, Offset: i}
		}
	}
	return nil
}

// Escape returns s with every unsafe character replaced by a visible
// escape, as strconv.QuoteToGraphic writes them (\x1b, \t, \u009b, \u202e),
// and every byte that is not valid UTF-8 by \xNN. Other text, backslashes
// included, is kept as it is, so an escape is not always distinguishable
// from the same characters typed literally; it is for display, not for
// round trips.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case IsUnsafe(r):
			b.WriteString(escapeRune(r))
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7F {
			return Check(s) != nil
		}
	}
	return false
}

// escapeRune is strconv's escape of r without the quotes.
func escapeRune(r rune) string {
	q := strconv.QuoteRuneToGraphic(r)
	return q[1 : len(q)-1]
}
