package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/jackc/pgx/v5"
)

// probeEnv makes the test binary a one-shot client (probeMain) instead of
// running the tests: the network filter exempts root, so the access tests
// connect as another user (nobody) through a copy of this binary.
const probeEnv = "HOARD_E2E_PROBE"

// probeMain connects to DST from address SRC and speaks PROTO's first
// words: "redis" sends PING and wants +PONG or an error reply (-NOAUTH),
// "postgresql" sends an SSLRequest and wants 'S' or 'N', "mysql" (MariaDB)
// sends nothing and wants the server's first packet: a greeting (protocol
// 10) or an error packet (0xff). Exit 0: the engine answered; 3: the
// connection was refused or reset; 1: anything else.
func probeMain(args []string) int {
	if len(args) != 3 {
		fmt.Println("usage: PROTO SRC DST")
		return 1
	}
	proto, src, dst := args[0], args[1], args[2]
	dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := dl.Dial("tcp", dst)
	if refused(err) {
		fmt.Println("refused:", err)
		return 3
	}
	if err != nil {
		fmt.Println("dial:", err)
		return 1
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	switch proto {
	case "redis":
		_, err = io.WriteString(c, "PING\r\n")
	case "postgresql":
		req := make([]byte, 8)
		binary.BigEndian.PutUint32(req, 8)
		binary.BigEndian.PutUint32(req[4:], 80877103)
		_, err = c.Write(req)
	}
	// The byte that says what the engine answered: the first, or for
	// MariaDB the first of the packet after its 4-byte header.
	skip := map[string]int{"mysql": 4}[proto]
	var b byte
	for i := 0; i <= skip && err == nil; i++ {
		b, err = r.ReadByte()
	}
	if refused(err) {
		fmt.Println("reset:", err)
		return 3
	}
	if err != nil {
		fmt.Println("no answer:", err)
		return 1
	}
	ok := map[string][]byte{"redis": {'+', '-'}, "postgresql": {'S', 'N'}, "mysql": {10, 0xff}}[proto]
	if !slices.Contains(ok, b) {
		fmt.Printf("unexpected answer %q\n", b)
		return 1
	}
	fmt.Printf("answered %q\n", b)
	return 0
}

func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// copyProbe copies this test binary where nobody can run it (a 0755
// directory of its own), removed at the end of t.
func copyProbe(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "hoard-e2e-probe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "probe")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// probe runs probeMain from bin as nobody and reports whether the engine
// answered (false: refused or reset); anything else fails the test.
func probe(t *testing.T, bin, proto, src, dst string) bool {
	t.Helper()
	cmd := exec.Command(bin, proto, src, dst)
	cmd.Env = []string{probeEnv + "=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true
	case errors.As(err, &ee) && ee.ExitCode() == 3:
		return false
	}
	t.Fatalf("probe %s %s from %s: %v: %s", proto, dst, src, err, out)
	return false
}

// createLimited creates an instance from opts whose access is limited to
// 127.0.0.2 (Trove's raw body: gophercloud has no access field), waits
// until it is ACTIVE and returns its id.
func createLimited(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, opts instances.CreateOpts) string {
	t.Helper()
	body, err := opts.ToInstanceCreateMap()
	if err != nil {
		t.Fatal(err)
	}
	body["instance"].(map[string]any)["access"] = map[string]any{"is_public": false, "allowed_cidrs": []string{"127.0.0.2"}}
	var created struct {
		Instance struct{ ID string } `json:"instance"`
	}
	if _, err := sc.Post(ctx, sc.ServiceURL("instances"), body, &created, &gophercloud.RequestOpts{OkCodes: []int{200}}); err != nil {
		t.Fatal(err)
	}
	deleteAtEnd(ctx, t, sc, created.Instance.ID)
	waitStatus(ctx, t, sc, created.Instance.ID, "ACTIVE", 3*time.Minute)
	return created.Instance.ID
}

// deleteAtEnd deletes instance id through the API when t ends, while hoard
// still runs: its delete removes the instance's network filter and engine
// user, which killing the engines would leave behind. Instances registered
// later are deleted first (a replica before its source).
func deleteAtEnd(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, id string) {
	t.Cleanup(func() {
		if err := instances.Delete(ctx, sc, id).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("delete %s: %v", id, err)
			return
		}
		waitGone(ctx, t, sc, id, activeTimeout)
	})
}

// showAccess returns instance id's address (host:port) and the networks
// its detail view shows.
func showAccess(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, id string) (string, []string) {
	t.Helper()
	var d struct {
		Instance struct {
			IP     []string `json:"ip"`
			Port   int      `json:"port"`
			Access struct {
				AllowedCIDRs []string `json:"allowed_cidrs"`
			} `json:"access"`
		} `json:"instance"`
	}
	if _, err := sc.Get(ctx, sc.ServiceURL("instances", id), &d, nil); err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort(d.Instance.IP[0], strconv.Itoa(d.Instance.Port)), d.Instance.Access.AllowedCIDRs
}

// pgLogin logs in to the PostgreSQL instance at dst (host:port) as the
// test's user from the source address src, and returns the error (nil:
// logged in).
func pgLogin(t *testing.T, dst, src string) error {
	t.Helper()
	host, port, err := net.SplitHostPort(dst)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = host, uint16(p), "app", "app-pw-123", "shop"
	cfg.TLSConfig, cfg.Fallbacks = nil, nil
	cfg.DialFunc = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).DialContext
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		_ = c.Close(ctx)
	}
	return err
}

// pgLoginsFrom checks, polling until a deadline (a change of the list
// reaches the server by a reload), that logins to dst from each of allowed
// succeed and one from refused ("" for none) fails with "no pg_hba.conf
// entry".
func pgLoginsFrom(t *testing.T, dst, step string, allowed []string, refused string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var errAllowed error
		for _, src := range allowed {
			if err := pgLogin(t, dst, src); err != nil {
				errAllowed = fmt.Errorf("from %s: %w", src, err)
				break
			}
		}
		var errRefused error
		if refused != "" {
			errRefused = pgLogin(t, dst, refused)
		}
		okRefused := refused == "" || (errRefused != nil && strings.Contains(errRefused.Error(), "no pg_hba.conf entry"))
		if errAllowed == nil && okRefused {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: PostgreSQL login from %v: %v (want success); from %q: %v (want no pg_hba.conf entry)",
				step, allowed, errAllowed, refused, errRefused)
			return
		}
		pollPause(100 * time.Millisecond)
	}
}

// TestAccessEnforced: a MariaDB, a PostgreSQL and a Redis instance created
// with allowed_cidrs ["127.0.0.2/32"] answer a client (not root) from
// 127.0.0.2 and reset one from 127.0.0.3; a PUT to ["127.0.0.3/32"]
// reverses that, an empty list opens them; the detail view shows each
// list. As root (which the filter exempts), PostgreSQL's own pg_hba.conf
// refuses a login from outside the list and admits one from it, and
// follows a PUT. A replica of a limited Redis source gets the source's list and
// still replicates (engine to engine through both filters).
func TestAccessEnforced(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestAccessEnforced needs root: the nftables filter and a client as another user")
	}
	h := startHoard(t)
	killInstanceProcs(t, h) // after the deletes (deleteAtEnd), should one fail
	ctx := context.Background()
	sc := h.client(ctx)
	bin := copyProbe(t)
	for _, kc := range kvCases {
		ds := kc.datastore
		t.Run(ds, func(t *testing.T) {
			opts := kc.opts(t)
			opts.Name = "acc-" + ds
			id := createLimited(ctx, t, sc, opts)
			dst, cidrs := showAccess(ctx, t, sc, id)
			if !slices.Equal(cidrs, []string{"127.0.0.2/32"}) {
				t.Errorf("shown allowed_cidrs %v, want [127.0.0.2/32]", cidrs)
			}
			check := func(step string, from2, from3 bool) {
				t.Helper()
				if got := probe(t, bin, ds, "127.0.0.2", dst); got != from2 {
					t.Errorf("%s: from 127.0.0.2 answered = %v, want %v", step, got, from2)
				}
				if got := probe(t, bin, ds, "127.0.0.3", dst); got != from3 {
					t.Errorf("%s: from 127.0.0.3 answered = %v, want %v", step, got, from3)
				}
			}
			check("created", true, false)
			// PostgreSQL enforces the list itself too (pg_hba.conf): as
			// root, which the packet filter lets through, a login from
			// outside the list reaches the engine and is refused there.
			pgCheck := func(step string, allowed []string, refused string) {
				t.Helper()
				if ds == "postgresql" {
					pgLoginsFrom(t, dst, step, allowed, refused)
				}
			}
			pgCheck("created", []string{"127.0.0.2"}, "127.0.0.3")
			for _, st := range []struct {
				cidrs          []string
				from2, from3   bool
				wantShownCIDRs []string
				pgAllowed      []string // sources PostgreSQL admits
				pgRefused      string   // a source pg_hba.conf refuses ("": none)
			}{
				{[]string{"127.0.0.3/32"}, false, true, []string{"127.0.0.3/32"}, []string{"127.0.0.3"}, "127.0.0.2"},
				{[]string{}, true, true, []string{}, []string{"127.0.0.2", "127.0.0.3"}, ""},
			} {
				put := map[string]any{"instance": map[string]any{"access": map[string]any{"is_public": false, "allowed_cidrs": st.cidrs}}}
				if _, err := sc.Put(ctx, sc.ServiceURL("instances", id), put, nil, &gophercloud.RequestOpts{OkCodes: []int{202}}); err != nil {
					t.Fatal(err)
				}
				if _, shown := showAccess(ctx, t, sc, id); !slices.Equal(shown, st.wantShownCIDRs) {
					t.Errorf("after PUT %v: shown %v", st.cidrs, shown)
				}
				check(fmt.Sprintf("PUT %v", st.cidrs), st.from2, st.from3)
				pgCheck(fmt.Sprintf("PUT %v", st.cidrs), st.pgAllowed, st.pgRefused)
			}
		})
	}
	t.Run("replica", func(t *testing.T) {
		kc := kvCases[len(kvCases)-1] // Redis: the quickest replica
		opts := kc.opts(t)
		opts.Name = "acc-src"
		src := createLimited(ctx, t, sc, opts)
		var created struct {
			Instance struct{ ID string } `json:"instance"`
		}
		if _, err := sc.Post(ctx, sc.ServiceURL("instances"), map[string]any{"instance": map[string]any{"name": "acc-ro", "replica_of": src}},
			&created, &gophercloud.RequestOpts{OkCodes: []int{200}}); err != nil {
			t.Fatal(err)
		}
		rid := created.Instance.ID
		deleteAtEnd(ctx, t, sc, rid)
		waitStatus(ctx, t, sc, rid, "ACTIVE", 3*time.Minute)
		srcAddr, _ := showAccess(ctx, t, sc, src)
		rAddr, cidrs := showAccess(ctx, t, sc, rid)
		if !slices.Equal(cidrs, []string{"127.0.0.2/32"}) {
			t.Errorf("replica's shown allowed_cidrs %v, want its source's [127.0.0.2/32]", cidrs)
		}
		if probe(t, bin, kc.datastore, "127.0.0.3", rAddr) {
			t.Error("the replica answered a client from 127.0.0.3")
		}
		// This test runs as root, which the filters let through.
		host := func(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
		if err := kc.write(t, host(srcAddr), "limited", "replicated"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for kc.read(t, host(rAddr), "limited") != "replicated" {
			if time.Now().After(deadline) {
				rv := getReplicaView(ctx, t, sc, rid)
				t.Fatalf("the replica of a limited source did not apply a write within 30s; its replication: %+v", rv.Instance.Replication)
			}
			pollPause(50 * time.Millisecond)
		}
	})
}
