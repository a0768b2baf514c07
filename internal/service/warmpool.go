package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/secret"
	"github.com/hoard-db/hoard/internal/store"
)

// The warm pool keeps instances created and started ahead of time, ready
// to be handed to the next create that asks for one like them: the create
// then takes a running engine instead of initialising and starting one, and
// only its databases and users are left to make (--warm-pool).
//
// A pool instance is an ordinary instance of the reserved project
// WarmPoolTenant, created by RunWarmPool through the ordinary create task:
// the driver provisions and supervises it like any other, it keeps its
// engine across a hoard restart, and a kill of hoard at any moment leaves
// it either the pool's or a tenant's (store.Instances.AdoptInstance moves
// it in one transaction, with the tenant's create task). It counts
// against no tenant's quota until a create takes it; then it counts against
// that tenant's, checked in the same transaction. Only a create that needs
// nothing else of its engine takes one: the pool's datastore version,
// flavor and volume size, and no configuration group, allowed networks,
// backup to restore, source or HA group (those change the engine's
// configuration or data, which the pool instance was started without).
// Its engine's admin account and password stay the ones hoard set at the
// pool instance's create: no tenant ever saw them.
//
// RunWarmPool refills the pool after every adoption and deletes, through
// the ordinary delete task, pool instances that are no longer wanted
// (the operator lowered or removed a --warm-pool entry) or that failed.

// WarmPoolTenant is the reserved project that holds the warm pool's
// instances. No identity issues project ids of this form (the built-in
// identity's are hex, Keystone's too), and creates in it are refused.
const WarmPoolTenant = "hoard:warm-pool"

// WarmPool is one entry of Config.WarmPool: Size instances of one datastore
// version, flavor and volume size kept ready.
type WarmPool struct {
	// Datastore and Version name the datastore version as a create request
	// does (type name or id; version name or id, "" for the default).
	Datastore, Version string
	// Flavor is the flavor id; 0 takes the flavor with the least RAM.
	Flavor int
	// VolumeGB is the volume size; 0 means 1.
	VolumeGB int
	// Size is how many instances are kept ready.
	Size int
}

func (w WarmPool) String() string {
	s := w.Datastore
	if w.Version != "" {
		s += ":" + w.Version
	}
	s += "=" + strconv.Itoa(w.Size)
	if w.Flavor != 0 {
		s += ",flavor=" + strconv.Itoa(w.Flavor)
	}
	if w.VolumeGB != 0 {
		s += ",volume=" + strconv.Itoa(w.VolumeGB)
	}
	return s
}

// MaxWarmPoolSize bounds one entry's Size.
const MaxWarmPoolSize = 100

// ParseWarmPool parses a --warm-pool value:
// datastore[:version]=N[,flavor=ID][,volume=GB].
func ParseWarmPool(v string) (WarmPool, error) {
	var w WarmPool
	head, opts, hasOpts := strings.Cut(v, ",")
	name, n, ok := strings.Cut(head, "=")
	if !ok || name == "" {
		return w, fmt.Errorf("warm pool %q: want datastore[:version]=N[,flavor=ID][,volume=GB]", v)
	}
	w.Datastore, w.Version, _ = strings.Cut(name, ":")
	if w.Datastore == "" || strings.Contains(w.Version, ":") {
		return w, fmt.Errorf("warm pool %q: bad datastore[:version] %q", v, name)
	}
	size, err := strconv.Atoi(n)
	if err != nil || size < 0 || size > MaxWarmPoolSize {
		return w, fmt.Errorf("warm pool %q: size %q: want 0 to %d", v, n, MaxWarmPoolSize)
	}
	w.Size = size
	if !hasOpts {
		return w, nil
	}
	for opt := range strings.SplitSeq(opts, ",") {
		key, val, _ := strings.Cut(opt, "=")
		num, err := strconv.Atoi(val)
		if err != nil || num < 1 {
			return w, fmt.Errorf("warm pool %q: %s: want a positive number, not %q", v, key, val)
		}
		switch {
		case key == "flavor" && w.Flavor == 0:
			w.Flavor = num
		case key == "volume" && w.VolumeGB == 0:
			w.VolumeGB = num
		default:
			return w, fmt.Errorf("warm pool %q: unknown or repeated option %q (flavor=ID, volume=GB)", v, key)
		}
	}
	return w, nil
}

// WarmPoolCount is what RunWarmPool last saw of one entry.
type WarmPoolCount struct {
	Datastore, Version string // the version's name
	FlavorID, VolumeGB int
	// Ready are ACTIVE instances a create can take; Building are being
	// created; Target is the entry's Size.
	Ready, Building, Target int
}

// warmKey is what a create must match to take a pool instance.
type warmKey struct {
	versionID string
	flavorID  int
	volumeGB  int
}

// warmState is the pool's shared state in Instances.
type warmState struct {
	wake chan struct{} // RunWarmPool's: a create took one, refill

	mu     sync.Mutex
	keys   map[warmKey]bool // the entries' keys, once resolved
	counts []WarmPoolCount
	// fails counts, per entry, the pool instances that failed since one
	// was last ready (RunWarmPool's only: no lock); failedAt is the last.
	fails    map[warmKey]int
	failedAt map[warmKey]time.Time
}

// warmUnwellAfter is how long a pool instance may stay neither building
// nor ready (its engine down) before it is replaced.
const warmUnwellAfter = time.Minute

// Refills of an entry whose instances keep failing (an engine that does
// not start) back off from warmRetryMin, doubling, to warmRetryMax.
const (
	warmRetryMin = 5 * time.Second
	warmRetryMax = 10 * time.Minute
)

// warmFailed records a failed pool instance of entry k.
func (s *Instances) warmFailed(k warmKey, now time.Time) {
	if s.warm.fails == nil {
		s.warm.fails, s.warm.failedAt = map[warmKey]int{}, map[warmKey]time.Time{}
	}
	s.warm.fails[k]++
	s.warm.failedAt[k] = now
	if s.warm.fails[k] == 3 {
		s.log.Warn("warm pool instances keep failing; refills back off", "datastore_version_id", k.versionID, "flavor", k.flavorID, "volume_gb", k.volumeGB)
	}
}

// warmWell records a ready pool instance of entry k.
func (s *Instances) warmWell(k warmKey) { delete(s.warm.fails, k) }

// warmMayCreate reports whether entry k may be refilled now: at once
// unless its instances failed lately (then after a back-off).
func (s *Instances) warmMayCreate(k warmKey, now time.Time) bool {
	n := s.warm.fails[k]
	if n == 0 {
		return true
	}
	wait := warmRetryMin << min(n-1, 10)
	return now.Sub(s.warm.failedAt[k]) >= min(wait, warmRetryMax)
}

// warmWanted reports whether the pool has an entry of key k.
func (s *Instances) warmWanted(k warmKey) bool {
	s.warm.mu.Lock()
	defer s.warm.mu.Unlock()
	return s.warm.keys[k]
}

// takeWarm gives the create of inst a pool instance if the request can
// take one (see AdoptInstance); it reports whether it did. inst is then
// the pool instance as the tenant's, and task its create task.
func (s *Instances) takeWarm(ctx context.Context, req *CreateInstanceRequest, restoreFrom *model.Backup, groupID string, inst *model.Instance, task *model.Task) (bool, error) {
	if restoreFrom != nil || groupID != "" || len(req.AllowedCIDRs) > 0 || req.ha != nil ||
		!s.warmWanted(warmKey{inst.DatastoreVersionID, inst.FlavorID, inst.VolumeSize}) {
		return false, nil
	}
	err := s.st.AdoptInstance(ctx, WarmPoolTenant, inst, task, s.quota())
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	select {
	case s.warm.wake <- struct{}{}:
	default:
	}
	return true, nil
}

// WarmPoolCounts returns what the warm pool's last round saw, one entry
// per --warm-pool entry (metrics: hoard_warm_pool_ready, ..._target).
func (s *Instances) WarmPoolCounts() []WarmPoolCount {
	s.warm.mu.Lock()
	defer s.warm.mu.Unlock()
	return slices.Clone(s.warm.counts)
}

// CheckWarmPool resolves every entry of Config.WarmPool, returning an
// error naming the first that names no offered datastore version or
// flavor, or whose flavor cannot run its engine.
func (s *Instances) CheckWarmPool(ctx context.Context) error {
	_, err := s.resolveWarm(ctx)
	return err
}

// warmEntry is a resolved WarmPool.
type warmEntry struct {
	WarmPool
	key     warmKey
	ds      *model.Datastore
	dv      *model.DatastoreVersion
	flavor  *model.Flavor
	engPort int
}

func (s *Instances) resolveWarm(ctx context.Context) ([]warmEntry, error) {
	var out []warmEntry
	var flavors []model.Flavor
	for _, w := range s.cfg.WarmPool {
		ds, dv, err := s.resolveDatastore(ctx, w.Datastore, w.Version)
		if err != nil {
			return nil, fmt.Errorf("warm pool %s: %w", w, err)
		}
		eng, ok := s.cfg.Engines[dv.Engine]
		if !ok {
			return nil, fmt.Errorf("warm pool %s: datastore version %s is not active", w, dv.Name)
		}
		if flavors == nil {
			if flavors, err = s.st.ListFlavors(ctx); err != nil {
				return nil, err
			}
		}
		var f *model.Flavor
		for i := range flavors {
			c := &flavors[i]
			if (w.Flavor != 0 && c.ID == w.Flavor) || (w.Flavor == 0 && (f == nil || c.RAM < f.RAM)) {
				f = c
			}
		}
		if f == nil {
			return nil, fmt.Errorf("warm pool %s: no flavor %d", w, w.Flavor)
		}
		vol := w.VolumeGB
		if vol == 0 {
			vol = 1
		}
		if vol > s.cfg.MaxVolumeGB {
			return nil, fmt.Errorf("warm pool %s: volume %d GB is above the largest a create may ask for (%d GB)", w, vol, s.cfg.MaxVolumeGB)
		}
		e := warmEntry{WarmPool: w, key: warmKey{dv.ID, f.ID, vol}, ds: ds, dv: dv, flavor: f, engPort: eng.DefaultPort()}
		e.VolumeGB = vol
		for _, o := range out {
			if o.key == e.key {
				return nil, fmt.Errorf("warm pool %s: the same pool as %s", w, o.WarmPool)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// RunWarmPool keeps the warm pool (Config.WarmPool) filled until ctx ends:
// it checks the pool every interval, and at once after a create took an
// instance from it. Without entries it only deletes the pool instances an
// earlier hoard left (then returns once there are none).
func (s *Instances) RunWarmPool(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		left, err := s.warmRound(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("warm pool", "err", err)
		}
		if len(s.cfg.WarmPool) == 0 && err == nil && left == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-s.warm.wake:
		case <-t.C:
		}
	}
}

// warmRound creates the pool instances missing and deletes the unwanted
// ones; it returns how many pool instances exist.
func (s *Instances) warmRound(ctx context.Context) (int, error) {
	entries, err := s.resolveWarm(ctx)
	if err != nil {
		return 0, err
	}
	keys := map[warmKey]bool{}
	for _, e := range entries {
		keys[e.key] = true
	}
	s.warm.mu.Lock()
	s.warm.keys = keys
	s.warm.mu.Unlock()

	list, err := s.st.ListInstances(ctx, WarmPoolTenant, store.Page{})
	if err != nil {
		return 0, err
	}
	now := s.now()
	byKey := map[warmKey][]*model.Instance{}
	var drop []*model.Instance
	for _, inst := range list {
		k := warmKey{inst.DatastoreVersionID, inst.FlavorID, inst.VolumeSize}
		switch {
		case inst.Deleting:
		case inst.Status == model.StatusError || inst.Status == model.StatusFailed:
			drop = append(drop, inst)
			s.warmFailed(k, now)
		case !keys[k]:
			drop = append(drop, inst)
		case inst.Status != model.StatusBuild && inst.Status != model.StatusActive && now.Sub(inst.Updated) > warmUnwellAfter:
			// Its engine is down (SHUTDOWN, BLOCKED) and supervision has
			// not brought it back: no create can take it.
			drop = append(drop, inst)
			s.warmFailed(k, now)
		default:
			byKey[k] = append(byKey[k], inst)
			if inst.Status == model.StatusActive {
				s.warmWell(k)
			}
		}
	}
	counts := make([]WarmPoolCount, 0, len(entries))
	var errs []error
	for _, e := range entries {
		have := byKey[e.key]
		c := WarmPoolCount{Datastore: e.ds.Name, Version: e.dv.Name, FlavorID: e.flavor.ID, VolumeGB: e.VolumeGB, Target: e.Size}
		for _, inst := range have {
			if inst.Status == model.StatusActive {
				c.Ready++
			} else {
				c.Building++
			}
		}
		counts = append(counts, c)
		for n := len(have); n < e.Size && s.warmMayCreate(e.key, now); n++ {
			if err := s.createWarm(ctx, e); err != nil {
				errs = append(errs, err)
				break
			}
		}
		// Surplus: the last in id order first, ready ones only (a
		// building one is deleted once it is ready, by a later round).
		for i := len(have) - 1; i >= 0 && len(have) > e.Size; i-- {
			if have[i].Status == model.StatusActive {
				drop = append(drop, have[i])
				have = slices.Delete(have, i, i+1)
			}
		}
	}
	s.warm.mu.Lock()
	s.warm.counts = counts
	s.warm.mu.Unlock()
	for _, inst := range drop {
		err := s.DeleteInstance(ctx, WarmPoolTenant, inst.ID)
		if err != nil && !fault.Is(err, fault.Unprocessable) && !fault.Is(err, fault.NotFound) {
			errs = append(errs, err)
		} else if err == nil {
			s.log.Info("warm pool instance deleted", "instance_id", inst.ID, "status", string(inst.Status))
		}
	}
	return len(list), errors.Join(errs...)
}

// createWarm creates one pool instance of e, as CreateInstance would with
// no databases or users, outside every quota.
func (s *Instances) createWarm(ctx context.Context, e warmEntry) error {
	payload, err := json.Marshal(createPayload{})
	if err != nil {
		return err
	}
	sealed, err := s.cfg.Sealer.Seal(payload)
	if err != nil {
		return err
	}
	adminSecret, err := s.cfg.Sealer.Seal([]byte(secret.Password(24)))
	if err != nil {
		return err
	}
	now := s.now()
	inst := &model.Instance{
		ID:                 uuid.NewString(),
		TenantID:           WarmPoolTenant,
		Name:               "warm-pool",
		Status:             model.StatusBuild,
		FlavorID:           e.flavor.ID,
		VolumeSize:         e.VolumeGB,
		Datastore:          e.ds.Name,
		DatastoreVersion:   e.dv.Name,
		DatastoreVersionID: e.dv.ID,
		Port:               e.engPort,
		AdminSecret:        adminSecret,
		Created:            now,
		Updated:            now,
	}
	task := &model.Task{
		ID: uuid.NewString(), InstanceID: inst.ID, Kind: model.TaskCreate, State: model.TaskPending,
		Payload: sealed, Created: now, Updated: now,
	}
	if err := s.st.CreateInstance(ctx, inst, task, nil); err != nil {
		return fmt.Errorf("warm pool %s: %w", e.WarmPool, err)
	}
	s.cfg.Notify()
	s.log.Info("warm pool instance create accepted", "instance_id", inst.ID, "datastore", e.ds.Name, "version", e.dv.Name, "flavor", e.flavor.ID, "volume_gb", e.VolumeGB)
	return nil
}
