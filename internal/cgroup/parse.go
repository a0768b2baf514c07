package cgroup

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// membership is one line of /proc/<pid>/cgroup: the cgroup a process is in,
// in one hierarchy. See cgroups(7), "/proc/[pid]/cgroup".
type membership struct {
	// ID is the hierarchy ID; 0 is the cgroup v2 (unified) hierarchy.
	ID int
	// Controllers are the v1 controllers bound to the hierarchy, with named
	// hierarchies as "name=systemd"; empty for v2.
	Controllers []string
	// Path is the cgroup's path relative to the hierarchy's root, as seen
	// from the reader's cgroup namespace.
	Path string
}

// parseProcCgroup parses the contents of /proc/<pid>/cgroup. Paths may
// contain ':' (only the first two separate fields).
func parseProcCgroup(b []byte) ([]membership, error) {
	var ms []membership
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("cgroup: /proc cgroup line %d: %q has not 3 fields", i+1, line)
		}
		id, err := strconv.Atoi(f[0])
		if err != nil || id < 0 {
			return nil, fmt.Errorf("cgroup: /proc cgroup line %d: bad hierarchy id %q", i+1, f[0])
		}
		if !strings.HasPrefix(f[2], "/") {
			return nil, fmt.Errorf("cgroup: /proc cgroup line %d: path %q is not absolute", i+1, f[2])
		}
		m := membership{ID: id, Path: f[2]}
		if f[1] != "" {
			m.Controllers = strings.Split(f[1], ",")
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// find returns the membership for hierarchy key: a v1 controller name, or ""
// for the v2 hierarchy.
func find(ms []membership, key string) (membership, bool) {
	for _, m := range ms {
		if key == "" && m.ID == 0 && len(m.Controllers) == 0 ||
			key != "" && slices.Contains(m.Controllers, key) {
			return m, true
		}
	}
	return membership{}, false
}

// mountInfo is the part of a /proc/<pid>/mountinfo line this package uses.
// See proc_pid_mountinfo(5).
type mountInfo struct {
	// Root is the directory of the filesystem mounted at Point; for a
	// cgroup filesystem, the cgroup Point shows.
	Root string
	// Point is the mount point.
	Point string
	// Options are the per-mount options ("rw,relatime").
	Options []string
	// FSType is "cgroup" (v1) or "cgroup2" for cgroup filesystems.
	FSType string
	// Super are the per-superblock options; for cgroup v1 they name the
	// hierarchy's controllers ("rw,cpu,cpuacct").
	Super []string
}

// parseMountInfo parses the contents of /proc/<pid>/mountinfo:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// with any number of optional fields before the "-".
func parseMountInfo(b []byte) ([]mountInfo, error) {
	var ms []mountInfo
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, " ")
		sep := -1
		if len(f) > 6 {
			// Fields 0-5 are never the separator, whatever they hold.
			if j := slices.Index(f[6:], "-"); j >= 0 {
				sep = 6 + j
			}
		}
		if sep < 0 || len(f) < sep+4 {
			return nil, fmt.Errorf("cgroup: mountinfo line %d: malformed: %q", i+1, line)
		}
		root, err := unescapeOctal(f[3])
		if err != nil {
			return nil, fmt.Errorf("cgroup: mountinfo line %d: root: %w", i+1, err)
		}
		point, err := unescapeOctal(f[4])
		if err != nil {
			return nil, fmt.Errorf("cgroup: mountinfo line %d: mount point: %w", i+1, err)
		}
		ms = append(ms, mountInfo{
			Root:    root,
			Point:   point,
			Options: strings.Split(f[5], ","),
			FSType:  f[sep+1],
			Super:   strings.Split(f[sep+3], ","),
		})
	}
	return ms, nil
}

// unescapeOctal undoes the kernel's escaping of ' ', '\t', '\n' and '\\' in
// mountinfo paths as \040, \011, \012 and \134 (fs/proc_namespace.c,
// mangle()).
func unescapeOctal(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+4 > len(s) {
			return "", fmt.Errorf("truncated escape in %q", s)
		}
		n, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape in %q", s)
		}
		b.WriteByte(byte(n))
		i += 3
	}
	return b.String(), nil
}
