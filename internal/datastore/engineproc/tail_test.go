package engineproc

import (
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		n      int
		want   string
	}{
		{"empty", nil, 3, ""},
		{"fewer lines than n", []string{"a\nb\n"}, 3, "a\nb"},
		{"last n lines", []string{"a\nb\n", "c\nd\n"}, 2, "c\nd"},
		{"no final newline", []string{"a\nb"}, 1, "b"},
		{"split writes", []string{"par", "tial\nline"}, 2, "partial\nline"},
		{"over the limit keeps the end", []string{strings.Repeat("x", TailLimit), "\nend\n"}, 1, "end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tl Tail
			for _, w := range tt.writes {
				if n, err := tl.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(w))
				}
			}
			if got := tl.LastLines(tt.n); got != tt.want {
				t.Errorf("LastLines(%d) = %q, want %q", tt.n, got, tt.want)
			}
			if len(tl.b) > TailLimit {
				t.Errorf("kept %d bytes, more than %d", len(tl.b), TailLimit)
			}
		})
	}
}
