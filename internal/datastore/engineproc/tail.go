package engineproc

import "strings"

// TailLimit is how many bytes a [Tail] keeps.
const TailLimit = 8 << 10

// Tail is an io.Writer that keeps the last TailLimit bytes written to it,
// e.g. a tool's stderr, so that a failure can quote its end without the
// whole output held in memory. The zero value is ready to use; it is not
// safe for concurrent writers.
type Tail struct{ b []byte }

// Write keeps the end of p; it never fails.
func (t *Tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > TailLimit {
		t.b = append([]byte(nil), t.b[len(t.b)-TailLimit:]...)
	}
	return len(p), nil
}

// LastLines returns the last n lines kept (without the final newline).
func (t *Tail) LastLines(n int) string {
	lines := strings.Split(strings.TrimRight(string(t.b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
