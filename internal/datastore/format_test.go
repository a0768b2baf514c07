package datastore

import "testing"

type formatted struct {
	Engine
	f ArtifactFormat
}

func (e formatted) ArtifactFormat() ArtifactFormat { return e.f }

func TestFormatOf(t *testing.T) {
	inc := ArtifactFormat{Type: "Full", IncrementalType: "FullIncremental", Ext: ".x.gz"}
	full := ArtifactFormat{Type: "Snap", Ext: ".tar.gz"}
	tests := []struct {
		name       string
		e          Engine
		ext        string
		full, incr string // Label(false), Label(true)
	}{
		{"incrementals", formatted{f: inc}, ".x.gz", "Full", "FullIncremental"},
		{"full only", formatted{f: full}, ".tar.gz", "Snap", "Snap"},
		{"no formatter", struct{ Engine }{}, ".gz", "", ""},
	}
	for _, tt := range tests {
		f := FormatOf(tt.e)
		if f.Ext != tt.ext || f.Label(false) != tt.full || f.Label(true) != tt.incr {
			t.Errorf("%s: FormatOf = %+v (labels %q, %q), want ext %q, labels %q, %q",
				tt.name, f, f.Label(false), f.Label(true), tt.ext, tt.full, tt.incr)
		}
	}
}
