package local

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/driver"
)

func TestAccessScript(t *testing.T) {
	spec := func(addr string, port int, allowed ...string) driver.Spec {
		return driver.Spec{InstanceID: "i-1", Address: addr, Port: port, Access: driver.Access{Allowed: allowed}}
	}
	tests := []struct {
		name string
		s    driver.Spec
		want []string // lines the script must hold
		err  string
	}{
		{name: "ipv4", s: spec("127.0.1.5", 6379, "127.0.0.2/32", "10.0.0.0/8"), want: []string{
			"add table inet t\ndelete table inet t\ntable inet t {",
			"type filter hook output priority filter; policy accept;",
			"ip daddr 127.0.1.5 tcp dport { 6379, 6380 } jump local_clients",
			`iifname != "lo" ip daddr 127.0.1.5 tcp dport { 6379, 6380 } jump remote_clients`,
			"meta skuid { 0, 2001 } accept",
			"ip saddr { 127.0.0.2/32, 10.0.0.0/8 } accept",
			"reject with tcp reset",
		}},
		{name: "ipv6 networks", s: spec("127.0.1.5", 5432, "2001:db8::/32"), want: []string{
			"ip6 saddr { 2001:db8::/32 } accept",
		}},
		{name: "ipv6 instance", s: spec("fd00::5", 3306, "::1/128", "127.0.0.2/32"), want: []string{
			"ip6 daddr fd00::5 tcp dport { 3306, 3307 } jump local_clients",
			"ip saddr { 127.0.0.2/32 } accept",
			"ip6 saddr { ::1/128 } accept",
		}},
		{name: "host name", s: spec("db.example.com", 3306, "10.0.0.0/8"), err: "no IP address"},
		{name: "no port", s: spec("127.0.1.5", 0, "10.0.0.0/8"), err: "no port"},
		{name: "bad network", s: spec("127.0.1.5", 3306, "10.0.0.0/99"), err: "allowed network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := accessScript("t", tt.s, []uint32{0, 2001})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("accessScript = %v, want error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("script lacks %q:\n%s", w, got)
				}
			}
			if tt.name == "ipv4" && strings.Contains(got, "ip6 saddr") {
				t.Errorf("script has an empty IPv6 rule:\n%s", got)
			}
		})
	}
}

// TestAccessTableNames: every driver root has its own table names, valid
// for nft whatever the instance id.
func TestAccessTableNames(t *testing.T) {
	a, b := accessTablePrefix("/var/lib/hoard"), accessTablePrefix("/tmp/x")
	if a == b || !strings.HasPrefix(a, "hoard_") {
		t.Errorf("prefixes %q and %q", a, b)
	}
	d := &Driver{nftPrefix: a}
	if got := d.accessTable("6f1c-2a.b_c"); got != a+"6f1c_2a_b_c" {
		t.Errorf("accessTable = %q", got)
	}
}

// fakeDial is the dial mode of the fake engine: connect to dst from
// address src, as whatever user runs it.
func fakeDial(src, dst string) int {
	dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := dl.Dial("tcp", dst)
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		fmt.Println("refused:", err)
		return 3
	}
	if err != nil {
		fmt.Println("dial:", err)
		return 1
	}
	c.Close()
	fmt.Println("connected")
	return 0
}

// dialAs connects to dst from address src as uid (a process of its own)
// and reports whether the connection was made; it fails the test when
// the dial fails otherwise than by a refusal.
func dialAs(t *testing.T, uid int, src, dst string) bool {
	t.Helper()
	cmd := exec.Command(fakeBin, "dial", src, dst)
	cmd.Env = []string{fakeEnv + "=1", "GORACE=atexit_sleep_ms=0"}
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true
	case errors.As(err, &ee) && ee.ExitCode() == 3:
		return false
	}
	t.Fatalf("dial %s from %s as uid %d: %v: %s", dst, src, uid, err, out)
	return false
}

// TestAccessEnforced runs a real engine process behind a real nftables
// filter: a client that is not root gets through from an allowed address
// only; root and the engine of a peer instance always do; a change, the
// empty list and Destroy take effect at once; Recover removes the filter
// of an instance it does not know.
func TestAccessEnforced(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestAccessEnforced needs root (nftables, instance users)")
	}
	h := newHarness(t, &fakeEngine{serve: "serve"})
	d := h.driver(nil)
	if err := d.AccessAvailable(); err != nil {
		t.Fatalf("nftables not usable on this host (install the nftables package): %v", err)
	}
	ctx := t.Context()
	t.Cleanup(func() {
		_ = d.nft(ctx, "cleanup", removeTableScript(d.accessTable("acc-1"))+removeTableScript(d.accessTable("acc-orphan")))
	})

	peer := h.spec("acc-peer")
	peer.Address = "127.0.77.2"
	s := h.spec("acc-1")
	s.Address = "127.0.77.1"
	s.Access = driver.Access{Allowed: []string{"127.0.0.2/32"}, Peers: []string{"acc-peer"}}
	for _, sp := range []driver.Spec{peer, s} {
		if err := d.Provision(ctx, sp); err != nil {
			t.Fatal(err)
		}
		if err := d.Start(ctx, sp); err != nil {
			t.Fatal(err)
		}
	}
	waitReady(t, s)
	dst := net.JoinHostPort(s.Address, strconv.Itoa(s.Port))
	const nobody = 65534
	peerUID := engineUID(t, d, "acc-peer")
	check := func(step string, want map[string]bool) {
		t.Helper()
		for who, ok := range want {
			f := strings.Fields(who) // "uid src"
			uid, _ := strconv.Atoi(f[0])
			if got := dialAs(t, uid, f[1], dst); got != ok {
				t.Errorf("%s: uid %d from %s connected = %v, want %v", step, uid, f[1], got, ok)
			}
		}
	}
	n, p := strconv.Itoa(nobody), strconv.Itoa(peerUID)
	check("created", map[string]bool{n + " 127.0.0.2": true, n + " 127.0.0.3": false, "0 127.0.0.3": true, p + " 127.0.0.3": true})

	s.Access.Allowed = []string{"127.0.0.3/32"}
	if err := d.SetAccess(ctx, s); err != nil {
		t.Fatal(err)
	}
	check("changed", map[string]bool{n + " 127.0.0.2": false, n + " 127.0.0.3": true})
	if h := h.handle("acc-1"); len(h.Spec.Access.Allowed) != 1 || h.Spec.Access.Allowed[0] != "127.0.0.3/32" {
		t.Errorf("handle keeps access %+v, want the new one", h.Spec.Access)
	}

	// A restart of the engine keeps the filter; so does a new driver's
	// Recover, which drops the table of an instance it does not know.
	if err := d.Restart(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
	check("restarted", map[string]bool{n + " 127.0.0.2": false})
	if err := d.nft(ctx, "test", "table inet "+d.accessTable("acc-orphan")+" {\n}\n"); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d2 := h.driver(nil)
	if err := d2.Recover(ctx, []driver.Spec{peer, s}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("nft", "list", "tables", "inet").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), d.accessTable("acc-orphan")) || !strings.Contains(string(out), d.accessTable("acc-1")) {
		t.Errorf("tables after Recover:\n%s\nwant acc-1's and not the orphan's", out)
	}
	check("recovered", map[string]bool{n + " 127.0.0.2": false, n + " 127.0.0.3": true})
	// Recover learnt which instances have a table: a start of one without
	// networks and without a table runs no nft.
	if !d2.mayHaveFilter("acc-1") || d2.mayHaveFilter("acc-peer") {
		t.Errorf("after Recover: acc-1 may have a table %v (want true), acc-peer %v (want false)",
			d2.mayHaveFilter("acc-1"), d2.mayHaveFilter("acc-peer"))
	}

	s.Access = driver.Access{}
	if err := d2.SetAccess(ctx, s); err != nil {
		t.Fatal(err)
	}
	check("opened", map[string]bool{n + " 127.0.0.2": true, n + " 127.0.0.3": true})

	s.Access.Allowed = []string{"127.0.0.3/32"}
	if err := d2.SetAccess(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := d2.Destroy(ctx, "acc-1"); err != nil {
		t.Fatal(err)
	}
	out, _ = exec.Command("nft", "list", "tables", "inet").Output()
	if strings.Contains(string(out), d.accessTable("acc-1")) {
		t.Errorf("Destroy left the table:\n%s", out)
	}
	if d2.mayHaveFilter("acc-1") {
		t.Error("after Destroy, acc-1 may still have a table")
	}
}
