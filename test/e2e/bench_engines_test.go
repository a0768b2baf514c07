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
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
	"github.com/hoard-db/hoard/internal/datastore/postgresql"
	"github.com/hoard-db/hoard/internal/datastore/redis"
	"github.com/hoard-db/hoard/internal/pki"
	"github.com/hoard-db/hoard/internal/secret"
)

// BenchmarkPostgreSQLCreateRestart is BenchmarkMariaDBCreateRestart for
// PostgreSQL: create-to-ACTIVE and restart-to-ACTIVE through the API
// against a bare initdb + postgres start and a bare stop + start (same
// rendered config, same user, same readiness probe), interleaved in the
// same run. Run it with `make bench`.
func BenchmarkPostgreSQLCreateRestart(b *testing.B) {
	benchEngineCreateRestart(b, "postgresql", postgresql.New(postgresql.Config{}))
}

// BenchmarkRedisCreateRestart is the same for Redis (its "init" only
// creates the empty ACL file).
func BenchmarkRedisCreateRestart(b *testing.B) {
	benchEngineCreateRestart(b, "redis", redis.New(redis.Config{}))
}

func benchEngineCreateRestart(b *testing.B, ds string, eng datastore.Engine) {
	ctx := context.Background()
	if _, err := eng.Discover(ctx); err != nil {
		enginetest.Unavailable(b, "%s: %v", ds, err)
	}
	// The init path, as before the template pool (BenchmarkTemplateCreate
	// measures creates from the pool).
	h := startHoardB(b, "HOARD_TEMPLATE_POOL=0")
	sc := h.client(ctx)
	opts := createOpts("bench")
	for _, ec := range engineCases {
		if ec.datastore == ds {
			opts = ec.opts
		}
	}
	opts.Databases, opts.Users = nil, nil

	var bareCreate, bareRestart, apiCreate, apiRestart []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bare := newBareEngine(b, eng)
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

		o := opts
		o.Name = fmt.Sprintf("bench-%s-%d", ds, i)
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
	fmt.Printf("\n%-34s %12s %12s %8s\n", ds+" (median of "+strconv.Itoa(b.N)+")", "bare", "hoard API", "ratio")
	fmt.Printf("%-34s %12s %12s %8.2f\n", "create → ACTIVE", bc.Round(time.Millisecond), ac.Round(time.Millisecond), ac.Seconds()/bc.Seconds())
	fmt.Printf("%-34s %12s %12s %8.2f\n", "restart → ACTIVE", br.Round(time.Millisecond), ar.Round(time.Millisecond), ar.Seconds()/br.Seconds())
}

// bareEngine is one engine server run by hand as the local driver runs
// it: same rendered config, same user, own session, same readiness probe
// (the engine's Ping every 20 ms).
type bareEngine struct {
	eng  datastore.Engine
	dir  string
	spec datastore.Spec
	cred *syscall.Credential
	cmd  *exec.Cmd
}

func newBareEngine(b *testing.B, eng datastore.Engine) *bareEngine {
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
	m := &bareEngine{eng: eng, dir: dir, cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	// A benchmark that fails half-way must not leave its engine running.
	b.Cleanup(func() {
		if m.cmd != nil && m.cmd.ProcessState == nil {
			_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
			_ = m.cmd.Wait()
		}
		os.RemoveAll(dir)
	})
	b.Cleanup(func() {
		if m.cmd != nil && m.cmd.ProcessState == nil {
			_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
			_ = m.cmd.Wait()
		}
		os.RemoveAll(dir)
	})
	m.spec = datastore.Spec{
		InstanceID: "bare", DataDir: filepath.Join(dir, "data"), RunDir: filepath.Join(dir, "run"),
		LogDir: filepath.Join(dir, "log"), ConfDir: filepath.Join(dir, "conf"),
		Address: "127.0.0.1", Port: port, RAMMB: 512, VolumeGB: 1,
	}
	for _, d := range []string{m.spec.DataDir, m.spec.RunDir, m.spec.LogDir, m.spec.ConfDir} {
		// 0700: PostgreSQL refuses a data directory others can read.
		if err := os.Mkdir(d, 0o700); err != nil {
			b.Fatal(err)
		}
		if err := os.Chown(d, uid, gid); err != nil {
			b.Fatal(err)
		}
	}
	// TLS as hoard's instances serve it by default (--instance-tls): a
	// certificate from a CA, loaded by the engine at every start.
	m.spec.TLS = bareTLS(b, dir, uid, gid)
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

func (m *bareEngine) init(b *testing.B) {
	args := m.eng.Process().InitArgs(m.spec)
	if len(args) == 0 {
		return
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = m.spec.DataDir
	cmd.Env = engineEnv
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: m.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("init: %v\n%s", err, out)
	}
}

func (m *bareEngine) start(b *testing.B) {
	args := m.eng.Process().ServerArgs(m.spec)
	m.cmd = exec.Command(args[0], args[1:]...)
	m.cmd.Dir = m.spec.DataDir
	m.cmd.Env = engineEnv
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: m.cred}
	if err := m.cmd.Start(); err != nil {
		b.Fatal(err)
	}
}

func (m *bareEngine) waitReady(b *testing.B) {
	c := datastore.Conn{Address: m.spec.Address, Port: m.spec.Port, Socket: m.eng.Process().Socket(m.spec)}
	waitFor(b, time.Minute, "bare "+m.eng.Name()+" ready", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return m.eng.Ping(ctx, c) == nil
	})
}

func (m *bareEngine) stop(b *testing.B) {
	if err := m.cmd.Process.Signal(m.eng.Process().StopSignal()); err != nil {
		b.Fatal(err)
	}
	_ = m.cmd.Wait()
}

func (m *bareEngine) cleanup() { os.RemoveAll(m.dir) }

// engineEnv is the environment the local driver gives engines (engines
// never see hoard's own environment).
var engineEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
	"HOME=/nonexistent", "USER=hoard", "LOGNAME=hoard"}

// bareTLS writes a CA and a certificate for 127.0.0.1 issued by it under
// dir/tls, readable by uid, as the local driver does for an instance.
func bareTLS(b *testing.B, dir string, uid, gid int) *datastore.TLSFiles {
	b.Helper()
	tdir := filepath.Join(dir, "tls")
	if err := os.Mkdir(tdir, 0o700); err != nil {
		b.Fatal(err)
	}
	sealer, err := secret.LoadOrCreateKey(filepath.Join(tdir, "sealer.key"))
	if err != nil {
		b.Fatal(err)
	}
	ca, err := pki.LoadOrCreate(tdir, sealer, "bare", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	p, err := ca.Issue([]string{"127.0.0.1"}, 24*time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	f := &datastore.TLSFiles{CAFile: filepath.Join(dir, "conf-ca.pem"), CertFile: filepath.Join(dir, "conf-cert.pem"), KeyFile: filepath.Join(dir, "conf-key.pem")}
	for path, data := range map[string][]byte{f.CAFile: ca.CertPEM(), f.CertFile: p.CertPEM, f.KeyFile: p.Key} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			b.Fatal(err)
		}
		if err := os.Chown(path, uid, gid); err != nil {
			b.Fatal(err)
		}
	}
	return f
}
