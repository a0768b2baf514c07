package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/safetext"
)

// hostileName is a name as a hostile tenant would store it (or as it was
// stored before the API refused such names): NUL, a bidi override, an ESC
// colour sequence, C1's CSI and DEL.
const hostileName = "a\x00b\u202e\x1b[31m\u009b2J\x7f"

// hostileShown is how the CLI prints it in table and plain output.
const hostileShown = `a\x00b\u202e\x1b[31m\u009b2J\x7f`

// checkTerminalSafe fails if out holds a control or bidi character other
// than the newlines that end its lines.
func checkTerminalSafe(t *testing.T, what, out string) {
	t.Helper()
	for i, line := range strings.Split(out, "\n") {
		if err := safetext.Check(line); err != nil {
			t.Errorf("%s line %d = %q: %v", what, i+1, line, err)
		}
	}
}

// TestServerTextEscaped: names, faults and messages from the server reach
// the terminal escaped in table, plain and JSON output, and JSON output
// still decodes to the exact text.
func TestServerTextEscaped(t *testing.T) {
	s := newTestServer(t)
	vars := s.env()
	in := s.fb.add(s.project, hostileName, model.StatusActive)
	s.fb.faultMsg = "disk \x1b]0;owned\x07 full\u2067"

	for _, args := range [][]string{
		{"instance", "list"},
		{"instance", "show", in.ID},
		{"instance", "list", "-o", "json"},
		{"instance", "show", in.ID, "-o", "json"},
	} {
		r := runCLI(t, vars, "", args...)
		if r.code != 0 {
			t.Fatalf("hoard %q = exit %d: %s", args, r.code, r.stderr)
		}
		checkTerminalSafe(t, strings.Join(args, " "), r.stdout)
		if args[len(args)-1] != "json" {
			if !strings.Contains(r.stdout, hostileShown) {
				t.Errorf("hoard %q =\n%s\nwant the name shown as %s", args, r.stdout, hostileShown)
			}
			continue
		}
		var names []string
		if args[1] == "list" {
			var vs []instanceView
			if err := json.Unmarshal([]byte(r.stdout), &vs); err != nil {
				t.Fatalf("hoard %q: %v\n%s", args, err, r.stdout)
			}
			for _, v := range vs {
				names = append(names, v.Name)
			}
		} else {
			var v instanceView
			if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
				t.Fatalf("hoard %q: %v\n%s", args, err, r.stdout)
			}
			names = append(names, v.Name)
		}
		if len(names) != 1 || names[0] != hostileName {
			t.Errorf("hoard %q names = %q, want [%q]", args, names, hostileName)
		}
	}

	// A fault message with an OSC sequence (retitles the window), on
	// stderr through --wait.
	r := runCLI(t, vars, "", "instance", "create", "doomed", "--flavor", "1", "--size", "1", "--wait")
	if r.code != 1 || !strings.Contains(r.stderr, `disk \x1b]0;owned\a full\u2067`) {
		t.Errorf("failing create --wait = %+v, want the fault escaped", r)
	}
	checkTerminalSafe(t, "create --wait stderr", r.stderr)

	// A server fault echoing client text.
	r = runCLI(t, vars, "", "instance", "create", "x", "--flavor", "big\x1b[2J", "--size", "1")
	if r.code != 1 || !strings.Contains(r.stderr, `big\x1b[2J`) {
		t.Errorf("create with a hostile flavor = %+v, want the fault escaped", r)
	}
	checkTerminalSafe(t, "create fault stderr", r.stderr)

	// Plain output: the delete confirmation names the instance it resolved.
	r = runCLI(t, vars, "", "instance", "delete", in.ID)
	if r.code != 0 {
		t.Fatalf("delete = %+v", r)
	}
	checkTerminalSafe(t, "delete stdout", r.stdout)
}

func TestEscapeJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":"b"}`, `{"a":"b"}`},
		{"{\"a\":\"x\u202ey\u009b\x7f\"}\n", `{"a":"x\u202ey\u009b\u007f"}` + "\n"},
		{"[\n  \"é🙂\u2066\"\n]\n", "[\n  \"é🙂\\u2066\"\n]\n"},
	}
	for _, tt := range tests {
		got := string(escapeJSON([]byte(tt.in)))
		if got != tt.want {
			t.Errorf("escapeJSON(%q) = %q, want %q", tt.in, got, tt.want)
		}
		var a, b any
		if err := json.Unmarshal([]byte(tt.in), &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(got), &b); err != nil || !jsonEqual(a, b) {
			t.Errorf("escapeJSON(%q) decodes to %v (%v), want %v", tt.in, b, err, a)
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
