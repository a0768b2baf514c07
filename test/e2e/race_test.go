package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/users"
)

// statusOf is the HTTP status of a gophercloud call's error: 202 for nil,
// 0 for an error without one (the request never got an answer).
func statusOf(err error) int {
	if err == nil {
		return http.StatusAccepted
	}
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		return ue.Actual
	}
	return 0
}

// codeTally counts the statuses of one kind of call.
type codeTally struct {
	mu    sync.Mutex
	codes map[int]int
	bad   []string // calls answered with a status they must never get
}

func (c *codeTally) add(allowed []int, what string, err error) int {
	code := statusOf(err)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.codes == nil {
		c.codes = map[int]int{}
	}
	c.codes[code]++
	if !slices.Contains(allowed, code) {
		c.bad = append(c.bad, fmt.Sprintf("%s: %d (%v)", what, code, err))
	}
	return code
}

func (c *codeTally) check(t *testing.T, what string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	t.Logf("%s: statuses %v", what, c.codes)
	for _, b := range c.bad {
		t.Errorf("%s answered %s", what, b)
	}
}

// TestRaceUsersRestart hammers user creates on a real MariaDB instance
// while it is restarted again and again, then deleted. No call may be a
// 500: a user create is accepted (202) or refused as not ready or busy
// (422) or told to retry (503); a restart is accepted or refused (422).
// Every user whose create was accepted exists in the engine afterwards,
// and logs in with its password.
func TestRaceUsersRestart(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)
	inst, err := instances.Create(ctx, sc, createOpts("race-db")).Extract()
	if err != nil {
		t.Fatal(err)
	}
	inst = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	addr := inst.IP[0]
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			_ = instances.Delete(ctx, sc, inst.ID).ExtractErr()
		}
	})

	const (
		workers  = 4
		restarts = 5 // accepted restarts to see through
	)
	userOK := []int{http.StatusAccepted, http.StatusUnprocessableEntity, http.StatusServiceUnavailable}
	var (
		userCodes, restartCodes codeTally
		acceptedMu              sync.Mutex
		accepted                []string
		stop                    = make(chan struct{})
		wg                      sync.WaitGroup
	)
	// Whatever happens, no hammer outlives the test.
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	hammer := func(g int, stop <-chan struct{}, tally *codeTally, allowed []int) {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := fmt.Sprintf("u%d_%d", g, i)
			err := users.Create(ctx, sc, inst.ID, users.BatchCreateOpts{{Name: name, Password: "pw-" + name}}).ExtractErr()
			if tally.add(allowed, "user create "+name, err) == http.StatusAccepted {
				acceptedMu.Lock()
				accepted = append(accepted, name)
				acceptedMu.Unlock()
			}
		}
	}
	for g := range workers {
		wg.Add(1)
		go hammer(g, stop, &userCodes, userOK)
	}

	nAccepted := func() int {
		acceptedMu.Lock()
		defer acceptedMu.Unlock()
		return len(accepted)
	}
	// Restart until `restarts` were accepted, each seen through to ACTIVE
	// while the creates go on, and each asked for while creates are being
	// accepted (in flight).
	deadline := time.Now().Add(3 * time.Minute)
	for done := 0; done < restarts; {
		before := nAccepted()
		waitFor(t, time.Minute, "user creates accepted", func() bool { return nAccepted() >= before+workers })
		if time.Now().After(deadline) {
			t.Fatalf("only %d restarts accepted in 3 minutes (statuses %v)", done, restartCodes.codes)
		}
		err := instances.Restart(ctx, sc, inst.ID).ExtractErr()
		switch restartCodes.add([]int{http.StatusAccepted, http.StatusUnprocessableEntity}, "restart", err) {
		case http.StatusAccepted:
			done++
			waitFor(t, activeTimeout, "ACTIVE after restart", func() bool {
				i, err := instances.Get(ctx, sc, inst.ID).Extract()
				return err == nil && i.Status == "ACTIVE"
			})
		default:
			pollPause(20 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	userCodes.check(t, "user creates during restarts")
	restartCodes.check(t, "restarts during user creates")
	if len(accepted) == 0 {
		t.Fatal("no user create was accepted")
	}

	// Every accepted create happened: the engine has the user, and its
	// password works.
	waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	have := strings.Fields(h.rootSQL(t, inst.ID, "SELECT User FROM mysql.user WHERE User LIKE 'u%\\_%'"))
	for _, name := range accepted {
		if !slices.Contains(have, name) {
			t.Errorf("user %s was accepted (202) but is not in the engine", name)
		}
	}
	for _, name := range []string{accepted[0], accepted[len(accepted)/2], accepted[len(accepted)-1]} {
		db := openDB(t, addr, name, "pw-"+name, "")
		if err := db.PingContext(ctx); err != nil {
			t.Errorf("user %s cannot log in: %v", name, err)
		}
	}

	// A delete raced by user creates: accepted (after the creates in
	// flight), and the creates are never a 500 (404 once it is gone).
	stop = make(chan struct{})
	var deleteCodes, lateCodes codeTally
	for g := range workers {
		wg.Add(1)
		go hammer(workers+g, stop, &lateCodes, append(slices.Clone(userOK), http.StatusNotFound))
	}
	waitFor(t, time.Minute, "delete accepted", func() bool {
		err := instances.Delete(ctx, sc, inst.ID).ExtractErr()
		return deleteCodes.add([]int{http.StatusAccepted, http.StatusUnprocessableEntity}, "delete", err) == http.StatusAccepted
	})
	deleted = true
	waitGone(ctx, t, sc, inst.ID, activeTimeout)
	close(stop)
	wg.Wait()
	lateCodes.check(t, "user creates during the delete")
	deleteCodes.check(t, "delete during user creates")
}
