package identity

import (
	"strings"
	"testing"
)

func TestPlausibleToken(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"gAAAAABk-_x9Q2h0b2tlbg", true},
		{"0123456789abcdef0123456789abcdef", true},
		{"MIIB+/x=", true},
		{strings.Repeat("t", 256), true},
		{"", false},
		{strings.Repeat("t", 257), false},
		{"to ken", false},
		{"to\tken", false},
		{"to\x00ken", false},
		{"to\x1bken", false},
		{"to\x7fken", false},
		{"to\x80ken", false},
		{"to\u009bken", false},
		{"to\u202eken", false},
	}
	for _, tt := range tests {
		if got := PlausibleToken(tt.in); got != tt.want {
			t.Errorf("PlausibleToken(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
