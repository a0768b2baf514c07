package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/mariadb"
)

// BenchmarkMariaDBCreateRestart measures, in the same run and interleaved
// so that both see the same machine load:
//
//   - create-to-ACTIVE through hoard's API (gophercloud create, then GET
//     until ACTIVE) against initialising and starting a bare mariadbd the
//     same way by hand (same config, same user, same readiness probe);
//   - restart-to-ACTIVE through the API against a bare stop+start.
//
// It reports the medians and their ratios (the targets are ≤ 1.3 and ≤ 1.2).
// Run it with `make bench`.
func BenchmarkMariaDBCreateRestart(b *testing.B) {
	ctx := context.Background()
	h := startHoardB(b)
	sc := h.client(ctx)
	eng := mariadb.New(mariadb.Config{})

	var bareCreate, bareRestart, apiCreate, apiRestart []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Bare engine, by hand.
		bare := newBareMariaDB(b, eng)
		d0 := time.Now()
		bare.init(b)
		bare.start(b)
		bare.waitReady(b)
		bareCreate = append(bareCreate, time.Since(d0))
		d0 = time.Now()
		bare.stop(b)
		bare.start(b)
		bare.waitReady(b)
		bareRestart = append(bareRestart, time.Since(d0))
		bare.stop(b)
		bare.cleanup()

		// The same through hoard's API.
		o := createOpts(fmt.Sprintf("bench-%d", i))
		o.Databases, o.Users = nil, nil
		d0 = time.Now()
		inst, err := instances.Create(ctx, sc, o).Extract()
		if err != nil {
			b.Fatal(err)
		}
		waitStatusB(ctx, b, sc, inst.ID, "ACTIVE")
		apiCreate = append(apiCreate, time.Since(d0))
		d0 = time.Now()
		if err := instances.Restart(ctx, sc, inst.ID).ExtractErr(); err != nil {
			b.Fatal(err)
		}
		waitStatusB(ctx, b, sc, inst.ID, "ACTIVE")
		apiRestart = append(apiRestart, time.Since(d0))
		if err := instances.Delete(ctx, sc, inst.ID).ExtractErr(); err != nil {
			b.Fatal(err)
		}
		waitFor(b, time.Minute, "bench instance deleted", func() bool {
			_, err := instances.Get(ctx, sc, inst.ID).Extract()
			return gophercloud.ResponseCodeIs(err, 404)
		})
	}
	b.StopTimer()
	bc, ac := median(bareCreate), median(apiCreate)
	br, ar := median(bareRestart), median(apiRestart)
	b.ReportMetric(ac.Seconds()/bc.Seconds(), "create/bare")
	b.ReportMetric(ar.Seconds()/br.Seconds(), "restart/bare")
	fmt.Printf("\n%-34s %12s %12s %8s\n", "mariadb (median of "+strconv.Itoa(b.N)+")", "bare", "hoard API", "ratio")
	fmt.Printf("%-34s %12s %12s %8.2f\n", "create → ACTIVE", bc.Round(time.Millisecond), ac.Round(time.Millisecond), ac.Seconds()/bc.Seconds())
	fmt.Printf("%-34s %12s %12s %8.2f\n", "restart → ACTIVE", br.Round(time.Millisecond), ar.Round(time.Millisecond), ar.Seconds()/br.Seconds())
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[len(s)/2]
}

// startHoardB is startHoard for benchmarks (a *testing.T is needed by the
// harness; a benchmark has a *testing.B).
func startHoardB(b *testing.B, env ...string) *hoard {
	b.Helper()
	dataDir, err := os.MkdirTemp("", "hoard-bench-")
	if err != nil {
		b.Fatal(err)
	}
	h := &hoard{t: b, dataDir: dataDir, listen: freeAddr(b), pool: nextPool()}
	b.Cleanup(func() { h.destroy() })
	h.start(env...)
	return h
}

func waitStatusB(ctx context.Context, b *testing.B, sc *gophercloud.ServiceClient, id, want string) {
	b.Helper()
	waitFor(b, activeTimeout, "status "+want, func() bool {
		inst, err := instances.Get(ctx, sc, id).Extract()
		if err == nil && (inst.Status == "ERROR" || inst.Status == "FAILED") {
			b.Fatalf("instance %s went to %s", id, inst.Status)
		}
		return err == nil && inst.Status == want
	})
}

// bareMariaDB is one mariadbd run by hand exactly as the local driver runs
// it: same rendered config, same user, own session, same readiness probe.
type bareMariaDB struct {
	eng  *mariadb.Engine
	dir  string
	spec datastore.Spec
	cred *syscall.Credential
	cmd  *exec.Cmd
}

func newBareMariaDB(b *testing.B, eng *mariadb.Engine) *bareMariaDB {
	b.Helper()
	dir, err := os.MkdirTemp("", "hoard-bare-")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	u, err := user.Lookup("hoard")
	if err != nil {
		b.Fatal("the hoard user is missing (hoard serve creates it): ", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	m := &bareMariaDB{eng: eng, dir: dir, cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	m.spec = datastore.Spec{
		InstanceID: "bare", DataDir: filepath.Join(dir, "data"), RunDir: filepath.Join(dir, "run"),
		LogDir: filepath.Join(dir, "log"), ConfDir: filepath.Join(dir, "conf"),
		Address: "127.0.0.1", Port: port, RAMMB: 512, VolumeGB: 1,
	}
	for _, d := range []string{m.spec.DataDir, m.spec.RunDir, m.spec.LogDir, m.spec.ConfDir} {
		if err := os.Mkdir(d, 0o750); err != nil {
			b.Fatal(err)
		}
		if err := os.Chown(d, uid, gid); err != nil {
			b.Fatal(err)
		}
	}
	files, err := eng.Process().Render(m.spec)
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(m.spec.ConfDir, f.Name), f.Content, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return m
}

// engineEnv is the environment the local driver gives engines. The bare
// engines add their own TMPDIR: a starting mariadbd deletes every #sql*
// file in its tmpdir, so engines that share /tmp break each other's
// temporary tables when started at once (seen with 20 bare installs).
var engineEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
	"HOME=/nonexistent", "USER=hoard", "LOGNAME=hoard"}

func (m *bareMariaDB) init(b *testing.B) {
	args := m.eng.Process().InitArgs(m.spec)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(engineEnv, "TMPDIR="+m.spec.RunDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: m.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		elog, _ := os.ReadFile(filepath.Join(m.spec.LogDir, "error.log"))
		b.Fatalf("init: %v\n%s\nerror.log:\n%s", err, out, elog)
	}
}

func (m *bareMariaDB) start(b *testing.B) {
	args := m.eng.Process().ServerArgs(m.spec)
	m.cmd = exec.Command(args[0], args[1:]...)
	m.cmd.Env = append(engineEnv, "TMPDIR="+m.spec.RunDir)
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: m.cred}
	if err := m.cmd.Start(); err != nil {
		b.Fatal(err)
	}
}

func (m *bareMariaDB) waitReady(b *testing.B) {
	c := datastore.Conn{Address: m.spec.Address, Port: m.spec.Port, Socket: m.eng.Process().Socket(m.spec)}
	waitFor(b, time.Minute, "bare mariadbd ready", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return m.eng.Ping(ctx, c) == nil
	})
}

func (m *bareMariaDB) stop(b *testing.B) {
	if err := m.cmd.Process.Signal(m.eng.Process().StopSignal()); err != nil {
		b.Fatal(err)
	}
	_ = m.cmd.Wait()
}

func (m *bareMariaDB) cleanup() { os.RemoveAll(m.dir) }
