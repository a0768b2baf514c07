package cgroup

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeFiles serves plan's reads from a map.
func fakeFiles(files map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		s, ok := files[name]
		if !ok {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		return []byte(s), nil
	}
}

func TestPlan(t *testing.T) {
	const (
		v2Mount  = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
		v2Ctrls  = "cpuset cpu io memory hugetlb pids rdma misc\n"
		dockerV1 = "1 0 0:1 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n" +
			"2 0 0:2 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
		dockerCg = "5:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n"
	)
	type dirs struct {
		kind      kind
		path, dir string
	}
	tests := []struct {
		name    string
		base    string
		files   map[string]string
		want    []dirs
		wantErr string
	}{
		{"this host: hybrid, v1 memory under own cgroup", DefaultBase, map[string]string{
			"/proc/self/mountinfo":                      hostMountinfo,
			"/proc/self/cgroup":                         hostCgroup,
			"/sys/fs/cgroup/unified/cgroup.controllers": "hugetlb\n",
		}, []dirs{
			{v1Memory, "/process_api/91ef8fe52d0e834aa359733226143858/hoard-instances", "/sys/fs/cgroup/memory/process_api/91ef8fe52d0e834aa359733226143858/hoard-instances"},
			{v1CPU, "/hoard-instances", "/sys/fs/cgroup/cpu/hoard-instances"},
		}, ""},
		{"this host, absolute base", "/hoard/x", map[string]string{
			"/proc/self/mountinfo":                      hostMountinfo,
			"/proc/self/cgroup":                         hostCgroup,
			"/sys/fs/cgroup/unified/cgroup.controllers": "hugetlb\n",
		}, []dirs{
			{v1Memory, "/hoard/x", "/sys/fs/cgroup/memory/hoard/x"},
			{v1CPU, "/hoard/x", "/sys/fs/cgroup/cpu/hoard/x"},
		}, ""},
		{"v2 systemd service: sibling of own cgroup", DefaultBase, map[string]string{
			"/proc/self/mountinfo":              v2Mount,
			"/proc/self/cgroup":                 "0::/system.slice/hoard.service\n",
			"/sys/fs/cgroup/cgroup.controllers": v2Ctrls,
		}, []dirs{{v2, "/system.slice/hoard-instances", "/sys/fs/cgroup/system.slice/hoard-instances"}}, ""},
		{"v2 in the root cgroup", DefaultBase, map[string]string{
			"/proc/self/mountinfo":              v2Mount,
			"/proc/self/cgroup":                 "0::/\n",
			"/sys/fs/cgroup/cgroup.controllers": v2Ctrls,
		}, []dirs{{v2, "/hoard-instances", "/sys/fs/cgroup/hoard-instances"}}, ""},
		{"v2 absolute base", "/hoard.slice/instances", map[string]string{
			"/proc/self/mountinfo":              v2Mount,
			"/proc/self/cgroup":                 "0::/system.slice/hoard.service\n",
			"/sys/fs/cgroup/cgroup.controllers": v2Ctrls,
		}, []dirs{{v2, "/hoard.slice/instances", "/sys/fs/cgroup/hoard.slice/instances"}}, ""},
		{"v1 in a container, cpu joint with cpuacct", DefaultBase, map[string]string{
			"/proc/self/mountinfo": dockerV1,
			"/proc/self/cgroup":    dockerCg,
		}, []dirs{
			{v1Memory, "/docker/abc/hoard-instances", "/sys/fs/cgroup/memory/hoard-instances"},
			{v1CPU, "/docker/abc/hoard-instances", "/sys/fs/cgroup/cpu,cpuacct/hoard-instances"},
		}, ""},
		{"v1 memory only", DefaultBase, map[string]string{
			"/proc/self/mountinfo": "1 0 0:1 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
			"/proc/self/cgroup":    "4:memory:/a\n",
		}, []dirs{{v1Memory, "/a/hoard-instances", "/sys/fs/cgroup/memory/a/hoard-instances"}}, ""},
		{"v1 cpu only is nothing", DefaultBase, map[string]string{
			"/proc/self/mountinfo": "2 0 0:2 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n",
			"/proc/self/cgroup":    "1:cpu:/\n",
		}, nil, "no cgroup v2 mounted and no cgroup v1 memory hierarchy is mounted"},
		{"v1 base outside the container's view", "/elsewhere", map[string]string{
			"/proc/self/mountinfo": dockerV1,
			"/proc/self/cgroup":    dockerCg,
		}, nil, "cgroup /elsewhere is outside /sys/fs/cgroup/memory"},
		{"no cgroups", DefaultBase, map[string]string{
			"/proc/self/mountinfo": "23 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n",
			"/proc/self/cgroup":    "",
		}, nil, "no cgroup v2 mounted and no cgroup v1 memory hierarchy"},
		{"v2 without memory, no v1", DefaultBase, map[string]string{
			"/proc/self/mountinfo":              v2Mount,
			"/proc/self/cgroup":                 "0::/\n",
			"/sys/fs/cgroup/cgroup.controllers": "cpu pids\n",
		}, nil, "cgroup v2 at /sys/fs/cgroup has no memory controller and no cgroup v1"},
		{"no /proc", DefaultBase, map[string]string{}, nil, "cannot read mounts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs, err := plan(tt.base, fakeFiles(tt.files))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("plan() err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("plan() err = %v", err)
			}
			var got []dirs
			for _, h := range hs {
				got = append(got, dirs{h.kind, h.path, h.dir})
			}
			if len(got) != len(tt.want) {
				t.Fatalf("plan() = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("plan()[%d] = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestNewConfig(t *testing.T) {
	for _, base := range []string{"/", ".", "..", "../x", "a/../b", "a/", "//a"} {
		if _, err := New(Config{Base: base}); err == nil {
			t.Errorf("New(Config{Base: %q}) err = nil, want error", base)
		}
	}
}

func TestValidID(t *testing.T) {
	for _, id := range []string{"a", "inst-1", "A.b_c-9", strings.Repeat("x", 255), "a..b"} {
		if err := validID(id); err != nil {
			t.Errorf("validID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", ".hidden", "a/b", "a b", "ä", "a\x00", strings.Repeat("x", 256), "a:b"} {
		if err := validID(id); err == nil {
			t.Errorf("validID(%q) = nil, want error", id)
		}
	}
}

func TestLimits(t *testing.T) {
	for _, l := range []Limits{{MemoryBytes: -1}, {CPUWeight: -1}, {CPUWeight: 10001}} {
		if err := l.validate(); err == nil {
			t.Errorf("%+v.validate() = nil, want error", l)
		}
	}
	for w, want := range map[int]int64{0: 1024, 100: 1024, 50: 512, 1: 10, 10000: 102400} {
		if got := cpuShares(w); got != want {
			t.Errorf("cpuShares(%d) = %d, want %d", w, got, want)
		}
	}
}

// TestEnable checks which cgroup.subtree_control files enable writes, on a
// tree of plain files (the kernel's reaction to the writes is not
// modelled: this host's cgroup2 has no controller to enable below the
// root without changing the root).
func TestEnable(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string // relative to the top, in a/b
		want   map[string]string // subtree_control files after enable
		wantOK bool
	}{
		{"enable down from the top", map[string]string{
			"cgroup.controllers": "cpu memory", "cgroup.subtree_control": "",
			"a/cgroup.controllers": "", "a/cgroup.subtree_control": "",
			"a/b/cgroup.controllers": "", "a/b/cgroup.subtree_control": "",
		}, map[string]string{"": "+memory", "a": "+memory", "a/b": "+memory"}, true},
		{"only the missing levels", map[string]string{
			"cgroup.controllers": "memory", "cgroup.subtree_control": "memory",
			"a/cgroup.controllers": "memory", "a/cgroup.subtree_control": "",
			"a/b/cgroup.controllers": "", "a/b/cgroup.subtree_control": "",
		}, map[string]string{"": "memory", "a": "+memory", "a/b": "+memory"}, true},
		{"already enabled", map[string]string{
			"cgroup.controllers": "", "cgroup.subtree_control": "",
			"a/cgroup.controllers": "", "a/cgroup.subtree_control": "",
			"a/b/cgroup.controllers": "memory", "a/b/cgroup.subtree_control": "cpu memory",
		}, map[string]string{"": "", "a": "", "a/b": "cpu memory"}, true},
		{"not offered at the top", map[string]string{
			"cgroup.controllers": "cpu", "cgroup.subtree_control": "",
			"a/cgroup.controllers": "", "a/cgroup.subtree_control": "",
			"a/b/cgroup.controllers": "", "a/b/cgroup.subtree_control": "",
		}, map[string]string{"": "", "a": "", "a/b": ""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := t.TempDir()
			for name, s := range tt.files {
				f := filepath.Join(top, name)
				if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := enable(top, filepath.Join(top, "a", "b"), "memory")
			if (err == nil) != tt.wantOK {
				t.Fatalf("enable() = %v, want ok %v", err, tt.wantOK)
			}
			for dir, want := range tt.want {
				b, err := os.ReadFile(filepath.Join(top, dir, "cgroup.subtree_control"))
				if err != nil {
					t.Fatal(err)
				}
				if string(b) != want {
					t.Errorf("%s/cgroup.subtree_control = %q, want %q", dir, b, want)
				}
			}
		})
	}
}
