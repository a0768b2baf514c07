package engineproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
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

// VersionCache remembers VersionOutput by program file: asked again about
// a file of the same device, inode, size, modification and change time
// (an upgrade replaces the file), it answers without running the program.
// The zero value is ready; it is safe for concurrent use.
type VersionCache struct {
	mu sync.Mutex
	m  map[string]cachedVersion
}

type cachedVersion struct {
	id  [6]int64
	out string
}

// Output is VersionOutput of bin, from the cache when bin is unchanged.
func (c *VersionCache) Output(ctx context.Context, bin string) (string, error) {
	id, err := fileID(bin)
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", bin, err)
	}
	c.mu.Lock()
	v, ok := c.m[bin]
	c.mu.Unlock()
	if ok && v.id == id {
		return v.out, nil
	}
	out, err := VersionOutput(ctx, bin)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]cachedVersion)
	}
	c.m[bin] = cachedVersion{id: id, out: out}
	c.mu.Unlock()
	return out, nil
}

// fileID identifies the file at path (symbolic links followed).
func fileID(path string) ([6]int64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return [6]int64{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return [6]int64{int64(st.Dev), int64(st.Ino), st.Size, st.Mtim.Nano(), st.Ctim.Nano(), int64(st.Mode)}, nil
}
