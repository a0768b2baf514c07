package local

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

func TestHighestIDIn(t *testing.T) {
	tests := []struct {
		name string
		in   string
		base uint64
		want uint64
	}{
		{"empty", "", 100, 0},
		{"below base", "root:x:0:0::/root:/bin/bash\nhoard:x:999:995::/nonexistent:/usr/sbin/nologin\n", 1000, 0},
		{"highest wins", "a:x:2000000003:1::/:/\nb:x:2000000001:1::/:/\nc:x:5:5::/:/\n", 2000000000, 2000000003},
		{"group file", "hoard-1:x:2000000007:\nusers:x:100:\n", 2000000000, 2000000007},
		{"junk lines", "no colons\n::\nx:x:notanumber:\n", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := highestIDIn([]byte(tt.in), tt.base); got != tt.want {
				t.Errorf("highestIDIn(%q, %d) = %d, want %d", tt.in, tt.base, got, tt.want)
			}
		})
	}
}

// TestInstanceUsers checks, as root, that every instance runs as a user of
// its own whose uid is never handed out again, that no instance user can
// list Root or enter another instance's directory, that hoard's own files
// (the handle) are hoard's alone, and that Destroy removes the user.
func TestInstanceUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("instance users need root")
	}
	h := newHarness(t, &fakeEngine{serve: "serve", init: "init"})
	d := h.driver(nil)
	ctx := context.Background()
	if !d.IsolatesInstances() {
		t.Fatal("IsolatesInstances() = false as root without Config.User")
	}
	for _, id := range []string{"iso-a", "iso-b"} {
		s := h.spec(id)
		s.RAMMB = 512
		if err := d.Provision(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := d.Start(ctx, s); err != nil {
			t.Fatal(err)
		}
		waitReady(t, s)
		if got, want := procUID(t, h.handle(id).PID), engineUID(t, d, id); got != want {
			t.Errorf("engine of %s runs as uid %d, want %d", id, got, want)
		}
		if ok, why := d.cg.Available(); ok && !d.cg.Contains(id, h.handle(id).PID) {
			t.Errorf("engine of %s is not in its cgroup (%s)", id, why)
		}
	}
	ua, ub := instanceAccount(t, d, "iso-a"), instanceAccount(t, d, "iso-b")
	if ua.uid == ub.uid || ua.gid == ub.gid || ua.uid < DefaultUIDBase {
		t.Fatalf("accounts a=%+v b=%+v: want distinct ids from %d", ua, ub, DefaultUIDBase)
	}
	u, err := user.Lookup(ua.name)
	if err != nil || u.Name != gecosPrefix+"iso-a" {
		t.Fatalf("user %s = %+v, %v; want comment %q", ua.name, u, err, gecosPrefix+"iso-a")
	}

	// Modes: Root is traversable, not listable; an instance directory is
	// its user's group's only; the handle is hoard's only.
	for _, c := range []struct {
		path string
		perm os.FileMode
		gid  uint32
	}{
		{h.root, 0o711, 0},
		{d.dir("iso-a"), 0o750, ua.gid},
		{filepath.Join(d.dir("iso-a"), handleName), 0o600, 0},
		{filepath.Join(d.dir("iso-a"), markerName), 0o600, 0},
		{filepath.Join(d.dir("iso-a"), "files"), 0o700, ua.gid},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != c.perm || st.Gid != c.gid {
			t.Errorf("%s: mode %v gid %d, want %v gid %d", c.path, fi.Mode().Perm(), st.Gid, c.perm, c.gid)
		}
	}

	// Another instance's user reaches nothing of a, nor lists Root.
	for _, p := range []string{d.dir("iso-a"), filepath.Join(d.dir("iso-a"), "conf", "fake.conf")} {
		if err := accessAs(ub, p); !errors.Is(err, syscall.EACCES) {
			t.Errorf("user of b reading %s: %v, want EACCES", p, err)
		}
	}
	if err := accessAs(ub, h.root); !errors.Is(err, syscall.EACCES) {
		t.Errorf("user of b listing Root: %v, want EACCES", err)
	}
	if err := accessAs(ua, filepath.Join(d.dir("iso-a"), "conf", "fake.conf")); err != nil {
		t.Errorf("user of a reading its config: %v", err)
	}

	// Destroy removes the user; a new instance never gets its uid again.
	if err := d.Destroy(ctx, "iso-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := user.Lookup(ua.name); err == nil {
		t.Errorf("user %s still exists after Destroy", ua.name)
	}
	if _, err := user.LookupGroup(ua.name); err == nil {
		t.Errorf("group %s still exists after Destroy", ua.name)
	}
	c := h.spec("iso-c")
	if err := d.Provision(ctx, c); err != nil {
		t.Fatal(err)
	}
	if uc := instanceAccount(t, d, "iso-c"); uc.uid <= ub.uid || uc.uid == ua.uid {
		t.Errorf("uid of a new instance = %d, want above %d (never %d again)", uc.uid, ub.uid, ua.uid)
	}
	for _, id := range []string{"iso-b", "iso-c"} {
		if err := d.Destroy(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
}

// accessAs reads path (lists it, if a directory) as a, in a child process
// (credentials are per process in Go): nil if it could, EACCES if not.
func accessAs(a account, path string) error {
	cmd := exec.Command("sh", "-c", `if [ -d "$1" ]; then ls "$1"; else cat "$1"; fi >/dev/null 2>&1`, "sh", path)
	cmd.SysProcAttr = sysProcAttr(a)
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return syscall.EACCES
		}
		return err
	}
	return nil
}

// TestInstanceUserIDTaken: an id that another process took between
// nextUID's look and the tools (another hoard on the host) is refused by
// groupadd as taken, which addInstanceUser reports as errIDTaken leaving
// nothing behind, so that the creation takes the next id.
func TestInstanceUserIDTaken(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("instance users need root")
	}
	h := newHarness(t, &fakeEngine{serve: "serve", init: "init"})
	d := h.driver(nil)
	ctx := context.Background()
	uid, err := d.nextUID()
	if err != nil {
		t.Fatal(err)
	}
	other := "hoard-test-" + randomSuffix()
	if err := userTool(ctx, "groupadd", "--system", "-g", strconv.FormatUint(uint64(uid), 10), other); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = userTool(context.Background(), "groupdel", other) })
	name := d.userName("taken")
	err = d.addInstanceUser(ctx, "taken", name, uid)
	if !errors.Is(err, errIDTaken) {
		t.Fatalf("addInstanceUser with a taken id = %v, want errIDTaken", err)
	}
	if _, err := user.LookupGroup(name); err == nil {
		t.Errorf("group %s left behind", name)
	}
	if _, err := user.Lookup(name); err == nil {
		t.Errorf("user %s left behind", name)
	}
	// The creation itself takes the next free id.
	a, err := d.account(ctx, "taken", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.removeInstanceUser(context.Background(), "taken") })
	if a.uid == uid || a.uid < DefaultUIDBase {
		t.Errorf("instance user got uid %d, want one above the taken %d", a.uid, uid)
	}
}
