package engineproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// VersionOutput runs `bin --version` and returns what it printed on
// stdout, for the engine to parse. A failure names the command and quotes
// the start of its stderr; it wraps exec.ErrNotFound or os.ErrNotExist
// when the program cannot be run at all (see [NotFound]). An ended ctx
// gives ctx.Err() itself.
func VersionOutput(ctx context.Context, bin string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--version")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil && !NotFound(err) {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("%s --version: %w (%s)", bin, err, strings.TrimSpace(truncate(stderr.String(), 200)))
	}
	return stdout.String(), nil
}

// NotFound reports whether err says a program does not exist.
func NotFound(err error) bool {
	return errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist)
}

// truncate cuts s to at most n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
