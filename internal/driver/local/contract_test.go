package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
	"github.com/hoard-db/hoard/internal/datastore/mariadb"
	"github.com/hoard-db/hoard/internal/datastore/redis"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/driver/drivertest"
)

// contractPassword is hoard's admin password of the contract suite's
// engines.
const contractPassword datastore.Secret = "C0ntract-adm1n-pw"

// TestContract runs the driver contract suite against the local driver
// with real engines: Redis (quick) and MariaDB. Engines run on loop
// volumes where the host has them (root), so that ResizeVolume grows a
// real filesystem; else on plain directories.
func TestContract(t *testing.T) {
	for _, tt := range []struct {
		name    string
		eng     datastore.Engine
		volumes string // "" for loop volumes where the host has them
	}{
		{"redis", redis.New(redis.Config{}), ""},
		{"mariadb", mariadb.New(mariadb.Config{}), ""},
		// Instances made before loop volumes keep plain directories.
		{"redis-dir", redis.New(redis.Config{}), VolumesDir},
	} {
		eng := tt.eng
		t.Run(tt.name, func(t *testing.T) {
			if testing.Short() {
				t.Skipf("runs a real %s", eng.Name())
			}
			if _, err := eng.Discover(context.Background()); errors.Is(err, datastore.ErrNotInstalled) {
				enginetest.Unavailable(t, "%s is not installed", eng.Name())
			} else if err != nil {
				t.Fatal(err)
			}
			drivertest.Run(t, contractHarness(t, eng, tt.volumes))
		})
	}
}

// contractHarness is the suite's harness for one engine: drivers on one
// root directory (as harness makes it, cleaned up the same way) with the
// given volume layout (or loop volumes where the host has them).
func contractHarness(t *testing.T, eng datastore.Engine, volumes string) drivertest.Harness {
	h := newHarness(t, nil)
	if volumes == "" {
		volumes = VolumesDir
		if volumeSupport(os.Geteuid() == 0) == nil {
			volumes = VolumesLoop
		}
	}
	n := 0
	handleOf := func(id string) (*handle, error) {
		b, err := os.ReadFile(filepath.Join(h.root, id, handleName))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return decodeHandle(b)
	}
	hs := drivertest.Harness{
		New: func(t *testing.T, obs driver.Observer) driver.Driver {
			d, err := New(Config{
				Root:        h.root,
				Engines:     map[string]datastore.Engine{eng.Name(): eng},
				Observer:    obs,
				Logger:      slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
				StopTimeout: 30 * time.Second,
				Credentials: func(string) (string, datastore.Secret) { return eng.AdminUser(), contractPassword },
				Volumes:     volumes,
				tune: func(d *Driver) {
					d.backoffMin = 10 * time.Millisecond
					d.backoffMax = 40 * time.Millisecond
					d.pollEvery = 20 * time.Millisecond
					d.pingEvery = 20 * time.Millisecond
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			return d
		},
		Spec: func(t *testing.T) driver.Spec {
			n++
			return driver.Spec{InstanceID: fmt.Sprintf("ct%d", n), Engine: eng.Name(), Address: "127.0.0.1", Port: freePort(t), RAMMB: 512, VolumeGB: 1}
		},
		Engine:        eng,
		AdminUser:     eng.AdminUser(),
		AdminPassword: contractPassword,
		// The process the handle records, if it lives: pid and start time.
		Incarnation: func(_ context.Context, s driver.Spec) (string, error) {
			hd, err := handleOf(s.InstanceID)
			if err != nil || hd == nil || hd.PID == 0 || gone(hd.PID, hd.StartTime) {
				return "", err
			}
			return fmt.Sprintf("pid %d started at %d", hd.PID, hd.StartTime), nil
		},
		Crash: func(_ context.Context, s driver.Spec) error {
			hd, err := handleOf(s.InstanceID)
			if err != nil || hd == nil || hd.PID == 0 {
				return fmt.Errorf("no engine process recorded (%v)", err)
			}
			return syscall.Kill(-hd.PID, syscall.SIGKILL)
		},
		Timeout: time.Minute,
	}
	if volumes == VolumesLoop {
		hs.VolumeBytes = func(_ context.Context, s driver.Spec) (int64, error) {
			_, fsSize, err := imageSizes(filepath.Join(h.root, s.InstanceID, imageName))
			return fsSize, err
		}
	}
	return hs
}
