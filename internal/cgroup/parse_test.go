package cgroup

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hostCgroup and hostMountinfo are this project's hosts (hybrid: v1
// controllers, cgroup2 with only hugetlb), abridged.
const hostCgroup = `9:name=systemd:/
8:pids:/
4:memory:/process_api/91ef8fe52d0e834aa359733226143858
2:cpuacct:/
1:cpu:/
0::/
`

const hostMountinfo = `23 1 254:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

func TestParseProcCgroup(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []membership
		wantErr bool
	}{
		{"host", hostCgroup, []membership{
			{9, []string{"name=systemd"}, "/"},
			{8, []string{"pids"}, "/"},
			{4, []string{"memory"}, "/process_api/91ef8fe52d0e834aa359733226143858"},
			{2, []string{"cpuacct"}, "/"},
			{1, []string{"cpu"}, "/"},
			{0, nil, "/"},
		}, false},
		{"v2 only", "0::/system.slice/hoard.service\n", []membership{{0, nil, "/system.slice/hoard.service"}}, false},
		{"joint controllers", "3:cpu,cpuacct:/docker/abc\n", []membership{{3, []string{"cpu", "cpuacct"}, "/docker/abc"}}, false},
		{"colon in path", "0::/a:b:c", []membership{{0, nil, "/a:b:c"}}, false},
		{"outside namespace", "0::/../../x", []membership{{0, nil, "/../../x"}}, false},
		{"empty", "", nil, false},
		{"two fields", "0:/", nil, true},
		{"bad id", "x::/", nil, true},
		{"negative id", "-1::/", nil, true},
		{"relative path", "0::a", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcCgroup([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseProcCgroup(%q) err = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseProcCgroup(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestFind(t *testing.T) {
	ms, err := parseProcCgroup([]byte(hostCgroup + "3:cpu,cpuacct:/j\n"))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"": "/", "memory": "/process_api/91ef8fe52d0e834aa359733226143858", "cpu": "/", "cpuacct": "/"} {
		if got, ok := find(ms, key); !ok || got.Path != want {
			t.Errorf("find(%q) = %q, %v, want %q", key, got.Path, ok, want)
		}
	}
	if got, ok := find(ms, "systemd"); ok {
		t.Errorf("find(systemd) = %v, want none (it is name=systemd)", got)
	}
}

func TestParseMountInfo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []mountInfo
		wantErr bool
	}{
		{"host", hostMountinfo, []mountInfo{
			{"/", "/", []string{"rw", "relatime"}, "ext4", []string{"rw"}},
			{"/", "/sys/fs/cgroup", []string{"rw", "relatime"}, "tmpfs", []string{"rw", "mode=755"}},
			{"/", "/sys/fs/cgroup/cpu", []string{"rw", "relatime"}, "cgroup", []string{"rw", "cpu"}},
			{"/", "/sys/fs/cgroup/cpuacct", []string{"rw", "relatime"}, "cgroup", []string{"rw", "cpuacct"}},
			{"/", "/sys/fs/cgroup/memory", []string{"rw", "relatime"}, "cgroup", []string{"rw", "memory"}},
			{"/", "/sys/fs/cgroup/systemd", []string{"rw", "relatime"}, "cgroup", []string{"rw", "name=systemd"}},
			{"/", "/sys/fs/cgroup/unified", []string{"rw", "relatime"}, "cgroup2", []string{"rw"}},
		}, false},
		{"optional fields and container root",
			"1218 1211 0:29 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid master:11 shared:9 - cgroup cgroup rw,cpu,cpuacct",
			[]mountInfo{{"/docker/abc", "/sys/fs/cgroup/cpu,cpuacct", []string{"ro", "nosuid"}, "cgroup", []string{"rw", "cpu", "cpuacct"}}}, false},
		{"escapes", `36 35 98:0 /a\040b /mnt/x\011y\134z\012 rw - ext3 /dev/root rw`,
			[]mountInfo{{"/a b", "/mnt/x\ty\\z\n", []string{"rw"}, "ext3", []string{"rw"}}}, false},
		{"dash as root", "36 35 98:0 - /mnt rw - ext3 /dev/root rw",
			[]mountInfo{{"-", "/mnt", []string{"rw"}, "ext3", []string{"rw"}}}, false},
		{"empty", "", nil, false},
		{"no separator", "36 35 98:0 / /mnt rw ext3 /dev/root rw", nil, true},
		{"short after separator", "36 35 98:0 / /mnt rw - ext3 /dev/root", nil, true},
		{"short before separator", "36 35 / /mnt - ext3 /dev/root rw", nil, true},
		{"truncated escape", `36 35 98:0 /a\04 /mnt rw - ext3 /dev/root rw`, nil, true},
		{"bad escape", `36 35 98:0 /a\09x /mnt rw - ext3 /dev/root rw`, nil, true},
		{"escape overflow", `36 35 98:0 /a\400 /mnt rw - ext3 /dev/root rw`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMountInfo([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseMountInfo(%q) err = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseMountInfo(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// formatProcCgroup and formatMountInfo write what the parsers read.
func formatProcCgroup(ms []membership) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%d:%s:%s\n", m.ID, strings.Join(m.Controllers, ","), m.Path)
	}
	return b.String()
}

func formatMountInfo(ms []mountInfo) string {
	esc := strings.NewReplacer(" ", `\040`, "\t", `\011`, "\n", `\012`, `\`, `\134`)
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "1 2 3:4 %s %s %s - %s src %s\n", esc.Replace(m.Root), esc.Replace(m.Point),
			strings.Join(m.Options, ","), m.FSType, strings.Join(m.Super, ","))
	}
	return b.String()
}

// FuzzParse checks that the parsers do not panic, and that what they
// return survives formatting and parsing again.
func FuzzParse(f *testing.F) {
	f.Add([]byte(hostCgroup))
	f.Add([]byte(hostMountinfo))
	f.Add([]byte(`36 35 98:0 /a\040b /mnt/x\011y rw master:1 - ext3 /dev/root rw`))
	f.Add([]byte("3:cpu,cpuacct:/docker/abc\n0::/a:b\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if ms, err := parseProcCgroup(b); err == nil {
			again, err := parseProcCgroup([]byte(formatProcCgroup(ms)))
			if err != nil {
				t.Fatalf("parseProcCgroup(format(%q)): %v", b, err)
			}
			if diff := cmp.Diff(ms, again); diff != "" {
				t.Fatalf("parseProcCgroup(%q) round trip (-first +again):\n%s", b, diff)
			}
		}
		if ms, err := parseMountInfo(b); err == nil {
			again, err := parseMountInfo([]byte(formatMountInfo(ms)))
			if err != nil {
				t.Fatalf("parseMountInfo(format(%q)): %v", b, err)
			}
			if diff := cmp.Diff(ms, again); diff != "" {
				t.Fatalf("parseMountInfo(%q) round trip (-first +again):\n%s", b, diff)
			}
		}
	})
}
