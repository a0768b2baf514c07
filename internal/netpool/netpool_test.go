package netpool

import "testing"

func TestCandidates(t *testing.T) {
	tests := []struct {
		in        string
		n         int
		first     string
		last      string
		wantError bool
	}{
		{"127.0.1.0/24", 254, "127.0.1.1", "127.0.1.254", false},
		{"127.0.1.7/24", 254, "127.0.1.1", "127.0.1.254", false},
		{"127.0.2.0/30", 2, "127.0.2.1", "127.0.2.2", false},
		{"127.0.2.4/32", 1, "127.0.2.4", "127.0.2.4", false},
		{"10.0.0.0/8", 0, "", "", true},
		{"nonsense", 0, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Candidates(tt.in)
			if (err != nil) != tt.wantError {
				t.Fatalf("Candidates(%q) err = %v, want error %v", tt.in, err, tt.wantError)
			}
			if tt.wantError {
				return
			}
			if len(got) != tt.n || got[0] != tt.first || got[len(got)-1] != tt.last {
				t.Errorf("Candidates(%q) = %d addrs %s..%s, want %d %s..%s", tt.in, len(got), got[0], got[len(got)-1], tt.n, tt.first, tt.last)
			}
		})
	}
}

func FuzzCandidates(f *testing.F) {
	f.Add("127.0.1.0/24")
	f.Add("::1/128")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Candidates(s)
		if err == nil && (len(got) == 0 || len(got) > MaxSize) {
			t.Errorf("Candidates(%q) returned %d addresses", s, len(got))
		}
	})
}
