package engineproc

import (
	"os"
	"os/exec"
	"path/filepath"
)

// Find returns the path of the program name, or "" when it cannot be
// found. With binDir set only binDir is looked in; otherwise PATH, then
// each of fallbackDirs in order (Debian puts server programs in /usr/sbin,
// which is not in every PATH).
func Find(binDir, name string, fallbackDirs []string) string {
	if binDir != "" {
		p := filepath.Join(binDir, name)
		if IsExecutable(p) {
			return p
		}
		return ""
	}
	// LookPath refuses (ErrDot) a result relative to the working
	// directory, so a path it returns is absolute.
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range fallbackDirs {
		p := filepath.Join(dir, name)
		if IsExecutable(p) {
			return p
		}
	}
	return ""
}

// IsExecutable reports whether p is a regular file with an execute bit.
func IsExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
