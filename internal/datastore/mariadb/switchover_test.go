package mariadb

import "testing"

func TestComparePositions(t *testing.T) {
	tests := []struct {
		name    string
		a, b    string
		want    int
		wantErr bool
	}{
		{"both empty", "", "", 0, false},
		{"equal", "0-1-10", "0-1-10", 0, false},
		{"equal, domains in another order", "0-1-10,1-2-5", "1-2-5,0-1-10", 0, false},
		{"behind", "0-1-9", "0-1-10", -1, false},
		{"ahead", "0-1-11", "0-1-10", 1, false},
		{"ahead by a later server's transaction", "0-2-11", "0-1-10", 1, false},
		{"behind a later server's transaction", "0-1-10", "0-2-11", -1, false},
		{"large sequence numbers", "0-1-18446744073709551615", "0-1-18446744073709551614", 1, false},
		{"empty is behind", "", "0-1-1", -1, false},
		{"ahead of empty", "0-1-1", "", 1, false},
		{"missing domain is behind", "0-1-10", "0-1-10,1-3-2", -1, false},
		{"extra domain is ahead", "0-1-10,1-3-2", "0-1-10", 1, false},
		{"behind in one domain, equal in the other", "0-1-9,1-3-2", "0-1-10,1-3-2", -1, false},
		{"ahead in one, behind in another", "0-1-11,1-3-1", "0-1-10,1-3-2", 0, true},
		{"extra domain against a later one", "1-3-2", "0-1-10", 0, true},
		{"same sequence, other server", "0-1-10", "0-2-10", 0, true},
		{"malformed a", "0-1", "0-1-10", 0, true},
		{"malformed b", "0-1-10", "x-1-10", 0, true},
		{"negative", "0-1--1", "0-1-10", 0, true},
		{"domain twice", "0-1-10,0-2-11", "0-1-10", 0, true},
		{"server id too big", "0-4294967296-1", "0-1-1", 0, true},
	}
	e := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.ComparePositions(tt.a, tt.b)
			if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
				t.Errorf("ComparePositions(%q, %q) = %d, %v; want %d, error %v", tt.a, tt.b, got, err, tt.want, tt.wantErr)
			}
			if err != nil || tt.wantErr {
				return
			}
			if back, err := e.ComparePositions(tt.b, tt.a); err != nil || back != -got {
				t.Errorf("ComparePositions(%q, %q) = %d, %v; want %d", tt.b, tt.a, back, err, -got)
			}
		})
	}
}

func TestMergePositions(t *testing.T) {
	tests := []struct {
		in      []string
		want    string
		wantErr bool
	}{
		{nil, "", false},
		{[]string{"", ""}, "", false},
		{[]string{"0-1-10", ""}, "0-1-10", false},
		{[]string{"0-1-10", "0-1-12"}, "0-1-12", false},
		{[]string{"0-1-12", "0-1-10"}, "0-1-12", false},
		{[]string{"0-1-10", "0-2-10"}, "0-1-10", false},
		{[]string{"1-1-3,0-1-10", "0-1-11"}, "0-1-11,1-1-3", false},
		{[]string{"0-1-10", "junk"}, "", true},
	}
	for _, tt := range tests {
		got, err := mergePositions(tt.in...)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("mergePositions(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
