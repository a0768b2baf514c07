package main

import "testing"

func TestPublicURLFlag(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args    []string
		want    string
		wantErr bool
	}{
		{nil, "http://127.0.0.1:8779", false},
		{[]string{"--listen", "10.0.0.5:9000"}, "http://10.0.0.5:9000", false},
		{[]string{"--public-url", "https://db.example.com/"}, "https://db.example.com", false},
		{[]string{"--public-url", "https://example.com/hoard"}, "https://example.com/hoard", false},
		{[]string{"--public-url", "db.example.com"}, "", true},
		{[]string{"--public-url", "ftp://db.example.com"}, "", true},
		{[]string{"--public-url", "https://"}, "", true},
		{[]string{"--public-url", "https://u:p@db.example.com"}, "", true},
		{[]string{"--public-url", "https://db.example.com/?x=1"}, "", true},
		{[]string{"--public-url", "https://db.example.com/#f"}, "", true},
	}
	for _, tt := range tests {
		c, err := parseServeFlags(append([]string{"--data-dir", dir}, tt.args...))
		if (err != nil) != tt.wantErr {
			t.Errorf("parseServeFlags(%q) err = %v, want error %v", tt.args, err, tt.wantErr)
			continue
		}
		if err == nil && c.PublicURL != tt.want {
			t.Errorf("parseServeFlags(%q).PublicURL = %q, want %q", tt.args, c.PublicURL, tt.want)
		}
	}
}

func TestUnspecifiedListen(t *testing.T) {
	for in, want := range map[string]bool{
		":8779": true, "0.0.0.0:8779": true, "[::]:8779": true,
		"127.0.0.1:8779": false, "db.internal:8779": false, "[::1]:8779": false, "nonsense": false,
	} {
		if got := unspecifiedListen(in); got != want {
			t.Errorf("unspecifiedListen(%q) = %v, want %v", in, got, want)
		}
	}
}
