package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hoard-db/hoard/internal/cgroup"
	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/pki"
)

// Defaults for Config fields left zero.
const (
	DefaultUser         = "hoard"
	DefaultStopTimeout  = 30 * time.Second
	DefaultReadyTimeout = 60 * time.Second
	DefaultAdoptEvery   = time.Second
)

// Config configures a Driver.
type Config struct {
	// Root holds the instances, each in Root/<instance id>/. It is created if
	// missing and must be traversable by User.
	Root string
	// User is the OS user that runs every engine. When hoard runs as root,
	// "" (the default, and the only setting that isolates tenants) gives
	// every instance a user of its own (see users.go); a name makes every
	// engine run as that one user, created as a system user if missing.
	// When hoard does not run as root, engines run as the current user and
	// User must be "" or that user.
	User string
	// UIDBase is the first uid and gid of instance users;
	// DefaultUIDBase if zero.
	UIDBase uint32
	// Engines are the engines this driver runs, by Engine.Name().
	Engines map[string]datastore.Engine
	// Observer receives supervision events; may be nil.
	Observer driver.Observer
	// Logger receives the driver's logs; slog.Default() if nil.
	Logger *slog.Logger
	// StopTimeout is how long a graceful stop may take before the process
	// group is killed; DefaultStopTimeout if zero.
	StopTimeout time.Duration
	// ReadyTimeout is how long an engine restarted by supervision may take
	// to answer a ping before it is killed and tried again;
	// DefaultReadyTimeout if zero.
	ReadyTimeout time.Duration
	// Credentials returns the account used for supervision pings of an
	// instance; may be nil (then empty: engines count "access denied" as
	// alive).
	Credentials func(instanceID string) (user string, password datastore.Secret)
	// Env is extra environment (KEY=value) for engine processes. Engines
	// otherwise get a minimal environment, never hoard's own.
	Env []string
	// Volumes is the layout of new instances' data: VolumesLoop (a
	// loop-mounted ext4 image of the volume size: the size is enforced) or
	// VolumesDir (a plain directory: not enforced). "" means VolumesLoop
	// when hoard runs as root and loop devices and the e2fsprogs tools are
	// there, else VolumesDir. Instances keep the layout they were made with.
	Volumes string
	// Cgroups is where engines get their memory limit and CPU weight; nil
	// means the cgroups of this host (cgroup.New with its defaults), or
	// none when the host has no usable cgroups.
	Cgroups *cgroup.Manager
	// AdoptEvery is how often the driver looks for engines under Root that
	// should run and that nobody supervises (the supervisor's process died:
	// several hoard processes may share Root); DefaultAdoptEvery if zero.
	AdoptEvery time.Duration
	// MaxLogBytes bounds each file in an instance's log directory: a
	// larger one is rotated (logrotate.go); DefaultMaxLogBytes if zero.
	MaxLogBytes int64

	// TLS is the CA that issues every instance a certificate for its
	// address (tls.go); nil means engines serve no TLS.
	TLS *pki.CA
	// TLSLifetime is how long an instance certificate is valid;
	// pki.LeafLifetime if zero. One is renewed when less than a third
	// of it is left: at every render (start, restart, reconfigure) and
	// by the supervisor every TLSCheckEvery (DefaultTLSCheckEvery if zero).
	TLSLifetime   time.Duration
	TLSCheckEvery time.Duration

	// TemplatePool is how many pre-initialised data directories the
	// driver keeps for each engine that allows them (template.go); 0 keeps
	// none: every create runs the engine's init.
	TemplatePool int

	// tune, if set (tests), adjusts the Driver's tunables before its
	// goroutines start.
	tune func(*Driver)
}

// Driver runs instances as local processes. It implements driver.Driver.
type Driver struct {
	cfg      Config
	root     string
	realRoot string // root with symbolic links resolved, as mountinfo shows it
	log      *slog.Logger
	// acct is the user every engine runs as unless perInstance: then each
	// instance has its own (accts caches them, guarded by mu).
	acct        account
	perInstance bool
	uidBase     uint32
	volumes     string // VolumesLoop or VolumesDir, for new instances
	cg          *cgroup.Manager

	// nftPrefix starts the names of this driver's nftables tables; nftErr
	// says why nft cannot filter on this host, nil if it can (access.go).
	nftPrefix string
	nftErr    error
	// filters holds the instances whose table may exist; once
	// filtersKnown (Recover has listed the tables), an instance not in it
	// has none, and a start with no networks runs no nft to remove one
	// (an nft run costs 10–30 ms, a PostgreSQL restart 50 ms).
	filtersMu    sync.Mutex
	filters      map[string]bool
	filtersKnown bool

	// growHook, if set (tests), runs after each step of a volume grow; an
	// error aborts the grow there, as a crash would.
	growHook func(step string) error

	// Tunables, set by New; tests shorten them.
	backoffMin  time.Duration
	backoffMax  time.Duration
	pollEvery   time.Duration // re-attached process liveness
	pingEvery   time.Duration // readiness after a supervision restart
	killWait    time.Duration // how long a SIGKILLed process may take to go
	adoptEvery  time.Duration
	rotateEvery time.Duration // log rotation of each running engine
	tlsEvery    time.Duration // certificate renewal check

	members *os.File // shared flock on Root/.locks/members, for the Driver's life

	pool *templatePool // nil without Config.TemplatePool

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // supervisors

	mu     sync.Mutex
	closed bool
	insts  map[string]*instance
	accts  map[string]account
}

var (
	_ driver.Driver    = (*Driver)(nil)
	_ driver.Isolation = (*Driver)(nil)
)

// instance serialises the operations on one instance.
type instance struct {
	mu  sync.Mutex
	sup *supervisor // guarded by mu; nil when not supervised
}

// account is the OS identity engines run as.
type account struct {
	name     string
	uid, gid uint32
	asRoot   bool // hoard runs as root: switch credentials, chown files
}

// New returns a Driver for cfg, creating Root and (as root) the engine user.
func New(cfg Config) (*Driver, error) {
	const op = "driver.local.new"
	if cfg.Root == "" {
		return nil, fault.New(fault.Invalid, op, "root directory not set")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("while resolving root %s: %w", cfg.Root, err)
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if cfg.AdoptEvery <= 0 {
		cfg.AdoptEvery = DefaultAdoptEvery
	}
	if cfg.MaxLogBytes <= 0 {
		cfg.MaxLogBytes = DefaultMaxLogBytes
	}
	if cfg.TLSCheckEvery <= 0 {
		cfg.TLSCheckEvery = DefaultTLSCheckEvery
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	for name, e := range cfg.Engines {
		if e == nil || e.Name() != name {
			return nil, fault.Errorf(fault.Invalid, op, "engine registered as %q has another name", name)
		}
	}
	perInstance := os.Geteuid() == 0 && cfg.User == ""
	var acct account
	if perInstance {
		acct = account{name: "root", asRoot: true}
	} else {
		var err error
		if acct, err = resolveUser(cfg.User, log); err != nil {
			return nil, err
		}
	}
	if cfg.UIDBase == 0 {
		cfg.UIDBase = DefaultUIDBase
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("while creating root %s: %w", root, err)
	}
	switch {
	case perInstance:
		// Instance users may traverse Root to their own directory, never
		// list it (nor read anything of another instance: see makeDirs).
		if err := os.Chmod(root, 0o711); err != nil {
			return nil, fmt.Errorf("while closing root %s: %w", root, err)
		}
		if err := checkReachable(root, cfg.UIDBase-1, cfg.UIDBase-1); err != nil {
			return nil, err
		}
	case acct.asRoot:
		if err := checkReachable(root, acct.uid, acct.gid); err != nil {
			return nil, err
		}
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("while resolving root %s: %w", root, err)
	}
	log = log.With("driver", "local")
	if !perInstance {
		log.Warn("every instance's engine runs as the same OS user: a tenant that can run programs or read files through its engine (root enabled) can reach other tenants' instances; run hoard as root, without --instance-user, to give each instance its own user",
			"user", acct.name)
	}
	volumes, why := resolveVolumes(cfg.Volumes, acct.asRoot)
	if volumes == "" {
		return nil, why
	}
	if why != nil {
		log.Warn("instance volumes are plain directories: their size is not enforced", "volumes", volumes, "reason", why.Error())
	} else {
		log.Info("instance volumes", "volumes", volumes)
	}
	cg := cfg.Cgroups
	if cg == nil {
		var err error
		if cg, err = cgroup.New(cgroup.Config{}); err != nil {
			return nil, err
		}
	}
	if ok, why := cg.Available(); ok {
		log.Info("engines run in cgroups of their own", "cgroups", why)
	} else {
		log.Warn("engines run without memory limits: "+why, "cgroups", "none")
	}
	members, err := joinRoot(root)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Driver{
		cfg:         cfg,
		root:        root,
		realRoot:    realRoot,
		log:         log,
		acct:        acct,
		perInstance: perInstance,
		uidBase:     cfg.UIDBase,
		volumes:     volumes,
		cg:          cg,
		backoffMin:  time.Second,
		backoffMax:  30 * time.Second,
		pollEvery:   200 * time.Millisecond,
		pingEvery:   50 * time.Millisecond,
		killWait:    10 * time.Second,
		adoptEvery:  cfg.AdoptEvery,
		rotateEvery: 10 * time.Second,
		tlsEvery:    cfg.TLSCheckEvery,
		members:     members,
		ctx:         ctx,
		cancel:      cancel,
		insts:       make(map[string]*instance),
		accts:       make(map[string]account),
	}
	d.nftPrefix = accessTablePrefix(realRoot)
	if d.nftErr = probeNFT(ctx); d.nftErr != nil {
		log.Warn("instances' allowed networks cannot be enforced: "+d.nftErr.Error(), "access", "none")
	}
	if cfg.tune != nil {
		cfg.tune(d)
	}
	if cfg.TemplatePool > 0 {
		if d.pool, err = newTemplatePool(d, cfg.TemplatePool); err != nil {
			cancel()
			members.Close()
			return nil, err
		}
		d.wg.Add(1)
		go d.pool.run()
	}
	d.wg.Add(1)
	go d.adoptLoop()
	return d, nil
}

// resolveUser finds (and as root, creates) the user engines run as.
func resolveUser(name string, log *slog.Logger) (account, error) {
	const op = "driver.local.new"
	if os.Geteuid() != 0 {
		cur, err := user.Current()
		if err != nil {
			return account{}, fmt.Errorf("while looking up the current user: %w", err)
		}
		if name != "" && name != cur.Username {
			return account{}, fault.Errorf(fault.Invalid, op, "cannot run engines as %q without root", name)
		}
		return account{name: cur.Username, uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}, nil
	}
	if name == "" {
		name = DefaultUser
	}
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		log.Info("creating engine user", "user", name)
		out, cerr := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
		if cerr != nil {
			return account{}, fmt.Errorf("while creating user %s: %w: %s", name, cerr, out)
		}
		u, err = user.Lookup(name)
	}
	if err != nil {
		return account{}, fmt.Errorf("while looking up user %s: %w", name, err)
	}
	return accountOf(u)
}

// accountOf is the account of OS user u, for a hoard running as root.
func accountOf(u *user.User) (account, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return account{}, fmt.Errorf("user %s has uid %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return account{}, fmt.Errorf("user %s has gid %q: %w", u.Username, u.Gid, err)
	}
	return account{name: u.Username, uid: uint32(uid), gid: uint32(gid), asRoot: true}, nil
}

// checkReachable checks that uid/gid (without supplementary groups) can
// traverse every directory from / down to dir.
func checkReachable(dir string, uid, gid uint32) error {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("while checking %s: %w", p, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("cannot read owner of %s", p)
		}
		mode := fi.Mode().Perm()
		var can bool
		switch {
		case st.Uid == uid:
			can = mode&0o100 != 0
		case st.Gid == gid:
			can = mode&0o010 != 0
		default:
			can = mode&0o001 != 0
		}
		if !can {
			return fault.Errorf(fault.Invalid, "driver.local.new",
				"the engine user cannot traverse %s (mode %v); instances under %s would not start", p, mode, dir)
		}
		if p == "/" || p == filepath.Dir(p) {
			return nil
		}
	}
}

// Close stops supervising and releases the driver's locks, so that another
// Driver on Root adopts its engines; engines keep running. Later calls fail.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
	return d.members.Close()
}

// lock returns instance id locked for one operation, and its unlock: the
// instance mutex serialises the operations of this Driver, then op.lock
// those of every Driver sharing Root (other hoard processes).
func (d *Driver) lock(ctx context.Context, op, id string) (*instance, func(), error) {
	inst, err := d.instance(op, id)
	if err != nil {
		return nil, nil, err
	}
	inst.mu.Lock()
	ol, err := d.opLock(ctx, id)
	if err != nil {
		inst.mu.Unlock()
		return nil, nil, err
	}
	return inst, func() {
		ol.Close()
		inst.mu.Unlock()
	}, nil
}

// instance returns the in-process state of instance id.
func (d *Driver) instance(op, id string) (*instance, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, fault.New(fault.Unavailable, op, "driver closed")
	}
	inst := d.insts[id]
	if inst == nil {
		inst = &instance{}
		d.insts[id] = inst
	}
	return inst, nil
}

// validID reports whether id is usable as a directory name.
func validID(id string) bool {
	if id == "" || len(id) > 64 || id[0] == '.' {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

func checkID(op, id string) error {
	if !validID(id) {
		return fault.Errorf(fault.Invalid, op, "invalid instance id %q", id)
	}
	return nil
}

// engine validates s and returns its engine.
func (d *Driver) engine(op string, s driver.Spec) (datastore.Engine, error) {
	if err := checkID(op, s.InstanceID); err != nil {
		return nil, err
	}
	e, ok := d.cfg.Engines[s.Engine]
	if !ok {
		return nil, fault.Errorf(fault.Invalid, op, "unknown engine %q", s.Engine)
	}
	return e, nil
}

// dir is the directory of instance id.
func (d *Driver) dir(id string) string { return filepath.Join(d.root, id) }

// dsSpec is the engine's view of s.
func (d *Driver) dsSpec(s driver.Spec) datastore.Spec {
	dir := d.dir(s.InstanceID)
	var tls *datastore.TLSFiles
	if d.cfg.TLS != nil {
		f := d.tlsFiles(s.InstanceID) // written by render (tls.go)
		tls = &f
	}
	return datastore.Spec{
		TLS:         tls,
		InstanceID:  s.InstanceID,
		DataDir:     d.dataDir(s.InstanceID),
		RunDir:      filepath.Join(dir, "run"),
		LogDir:      filepath.Join(dir, "log"),
		ConfDir:     filepath.Join(dir, "conf"),
		FilesDir:    d.filesDir(s.InstanceID),
		Address:     s.Address,
		Port:        s.Port,
		RAMMB:       s.RAMMB,
		VolumeGB:    s.VolumeGB,
		Config:      s.Config,
		ReplicaOf:   s.ReplicaOf,
		Replicated:  s.Replicated,
		Synchronous: s.Synchronous,
		Logs:        s.Logs,
		// Checked by render (allowedSources): an entry that does not
		// parse is refused there, never dropped here.
		AllowedSources: allowedSources(s.Access),
	}
}

// allowedSources parses a's networks, leaving out any that does not parse
// (see checkAllowed).
func allowedSources(a driver.Access) []netip.Prefix {
	var out []netip.Prefix
	for _, c := range a.Allowed {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// checkAllowed refuses an access list with an entry that does not parse:
// dropped, the engine's own rules would be wider than the list (all of
// them dropped: open to every address).
func checkAllowed(op string, a driver.Access) error {
	for _, c := range a.Allowed {
		if _, err := netip.ParsePrefix(c); err != nil {
			return fault.Errorf(fault.Invalid, op, "allowed network %q is not a CIDR prefix", c)
		}
	}
	return nil
}

// Conn returns the address, port and socket of s's engine.
func (d *Driver) Conn(s driver.Spec) datastore.Conn {
	c := datastore.Conn{Address: s.Address, Port: s.Port}
	if e, ok := d.cfg.Engines[s.Engine]; ok && validID(s.InstanceID) {
		c.Socket = e.Process().Socket(d.dsSpec(s))
	}
	return c
}

// IsolatesInstances implements driver.Isolation: instances have OS users
// of their own only when hoard runs as root without Config.User.
func (d *Driver) IsolatesInstances() bool { return d.perInstance }

// limits are the cgroup limits of instance s: the flavor's RAM (at least
// minMemoryMB; none when the spec has no RAM) and a CPU weight in
// proportion to it (100, the default weight, for 1 GB).
func limits(s driver.Spec) cgroup.Limits {
	if s.RAMMB <= 0 {
		return cgroup.Limits{}
	}
	return cgroup.Limits{
		MemoryBytes: int64(max(s.RAMMB, minMemoryMB)) << 20,
		CPUWeight:   min(max(s.RAMMB*100/1024, 1), 10000),
	}
}

// minMemoryMB is the smallest memory limit an engine gets: MariaDB alone
// needs about 100 MB idle (engines.md §2.5).
const minMemoryMB = 256

// sysProcAttr runs a command in its own session as a.
func sysProcAttr(a account) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setsid: true}
	if a.asRoot {
		attr.Credential = &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: []uint32{}}
	}
	return attr
}

// env is the environment of engine processes running as a: minimal, never
// hoard's own (which may hold secrets), plus Config.Env.
func (d *Driver) env(a account) []string {
	home := "/nonexistent"
	if !a.asRoot {
		if h, err := os.UserHomeDir(); err == nil {
			home = h
		}
	}
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8",
		"HOME=" + home,
		"USER=" + a.name,
		"LOGNAME=" + a.name,
	}
	if tz, ok := os.LookupEnv("TZ"); ok {
		env = append(env, "TZ="+tz)
	}
	return append(env, d.cfg.Env...)
}

// report passes an event to the Observer.
func (d *Driver) report(ev driver.Event) {
	if d.cfg.Observer != nil {
		d.cfg.Observer(ev)
	}
}
