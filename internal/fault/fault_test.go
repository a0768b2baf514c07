package fault

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindOf(t *testing.T) {
	base := errors.New("disk on fire")
	tests := []struct {
		name string
		err  error
		want Kind
		msg  string
	}{
		{"plain", base, Internal, ""},
		{"direct", New(NotFound, "op", "gone"), NotFound, "gone"},
		{"wrapped", fmt.Errorf("ctx: %w", Wrap(Unprocessable, "op", "busy", base)), Unprocessable, "busy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KindOf(tt.err); got != tt.want {
				t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if got := Message(tt.err); got != tt.msg {
				t.Errorf("Message(%v) = %q, want %q", tt.err, got, tt.msg)
			}
		})
	}
	if !errors.Is(Wrap(Invalid, "op", "m", base), base) {
		t.Error("Wrap does not unwrap to its cause")
	}
}
