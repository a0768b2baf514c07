package fake_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/driver/drivertest"
	"github.com/hoard-db/hoard/internal/driver/fake"
)

// TestContract runs the driver contract suite against the fake driver.
// Its state is in memory: every "new" Driver of the suite is the same one.
func TestContract(t *testing.T) {
	d := fake.New()
	n := 0
	drivertest.Run(t, drivertest.Harness{
		New: func(*testing.T, driver.Observer) driver.Driver { return d },
		Spec: func(*testing.T) driver.Spec {
			n++
			return driver.Spec{InstanceID: fmt.Sprintf("contract-%d", n), Engine: "fake", Address: "127.0.0.1", Port: 3306, RAMMB: 512, VolumeGB: 1}
		},
		NoEngine: "the fake driver runs no engine",
		NoCrash:  "the fake driver runs no process",
		// Each start counts: the count names the engine that runs.
		Incarnation: func(_ context.Context, s driver.Spec) (string, error) {
			if !d.Running(s.InstanceID) {
				return "", nil
			}
			return strconv.Itoa(d.Starts[s.InstanceID]), nil
		},
	})
}
