package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/api"
	"github.com/hoard-db/hoard/internal/clock"
	"github.com/hoard-db/hoard/internal/dashboard"
	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/mariadb"
	"github.com/hoard-db/hoard/internal/datastore/postgresql"
	"github.com/hoard-db/hoard/internal/datastore/redis"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/driver/local"
	"github.com/hoard-db/hoard/internal/groupproxy"
	"github.com/hoard-db/hoard/internal/identity"
	"github.com/hoard-db/hoard/internal/metrics"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/netpool"
	"github.com/hoard-db/hoard/internal/pki"
	"github.com/hoard-db/hoard/internal/secret"
	"github.com/hoard-db/hoard/internal/service"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/task"
)

func newLogger(c *serveConfig) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// lockDataDir locks the data directory: exclusively with a SQLite store, so
// that two hoard processes never share one SQLite store and one instance
// tree; shared with PostgreSQL, whose replicas may share the data
// directory (and with the local driver must: see checkLocalNode), while a
// SQLite hoard is still kept out.
func lockDataDir(dir string, shared bool) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "hoard.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_EX
	if shared {
		how = syscall.LOCK_SH
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		if shared {
			return nil, fmt.Errorf("data directory %s is in use by a hoard process with a SQLite store", dir)
		}
		return nil, fmt.Errorf("data directory %s is in use by another hoard process", dir)
	}
	return f, nil
}

// lockSetup serialises the start-up of replicas sharing a data directory
// while they create its files (secret key, node id, admin password): the
// first creates them, the others read them complete. It waits.
func lockSetup(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "setup.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return f, nil
}

// localNodeSetting is the store setting that names the data directory (by
// its node id) whose instances tree holds the local driver's engines.
const localNodeSetting = "local_driver_node"

// nodeIDName is the file in the data directory that holds its node id.
const nodeIDName = "node.id"

// nodeID returns the node id of dataDir, creating it (a random UUID, mode
// 0600) the first time. The file appears complete or not at all.
func nodeID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, nodeIDName)
	b, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if _, perr := uuid.Parse(id); perr != nil {
			return "", fmt.Errorf("%s does not hold a node id: %w", path, perr)
		}
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read node id: %w", err)
	}
	id := uuid.NewString()
	tmp, err := os.CreateTemp(dataDir, "."+nodeIDName+".*")
	if err != nil {
		return "", fmt.Errorf("write node id: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(id + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path) // fails if another process was first
	}
	if errors.Is(err, fs.ErrExist) {
		return nodeID(dataDir)
	}
	if err != nil {
		return "", fmt.Errorf("write node id: %w", err)
	}
	return id, nil
}

// checkLocalNode binds the store to this data directory for the local
// driver: the first hoard records the directory's node id in the store,
// and a hoard whose directory has another id is refused, since the store
// describes engines it could not reach.
func checkLocalNode(ctx context.Context, st store.Settings, dataDir string) (string, error) {
	id, err := nodeID(dataDir)
	if err != nil {
		return "", err
	}
	got, err := st.InitSetting(ctx, localNodeSetting, id)
	if err != nil {
		return "", fmt.Errorf("register node id: %w", err)
	}
	if got != id {
		return "", fmt.Errorf("the metadata store belongs to the local driver node %s, but data directory %s is node %s "+
			"(%s): with --driver local every replica must run on the host whose engines the store describes and "+
			"share its data directory; replicas on several hosts need --driver kubernetes",
			got, dataDir, id, filepath.Join(dataDir, nodeIDName))
	}
	return id, nil
}

func serve(ctx context.Context, args []string) error {
	c, err := parseServeFlags(args)
	if err != nil {
		return err
	}
	log := newLogger(c)
	slog.SetDefault(log)

	// The listeners come first: a busy port is reported before anything is
	// created (a data directory, the admin user, keys).
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	defer ln.Close()
	var metricsLn net.Listener
	if c.MetricsListen != "" {
		if metricsLn, err = net.Listen("tcp", c.MetricsListen); err != nil {
			return fmt.Errorf("--metrics-listen: %w", err)
		}
		defer metricsLn.Close()
	}

	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	dataDir, err := filepath.Abs(c.DataDir)
	if err != nil {
		return err
	}
	// Engines run as an unprivileged user and must traverse the data
	// directory to reach their own instance directory; nobody else may list
	// it, and every file hoard keeps in it is readable by its owner only.
	if err := os.Chmod(dataDir, 0o711); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	spec, err := parseStore(c.Store, dataDir)
	if err != nil {
		return fmt.Errorf("--store: %w", err)
	}
	lock, err := lockDataDir(dataDir, spec.Kind == storePostgres)
	if err != nil {
		return err
	}
	defer lock.Close()
	setup, err := lockSetup(dataDir)
	if err != nil {
		return err
	}
	defer setup.Close()

	st, err := openStore(ctx, spec)
	if err != nil {
		return fmt.Errorf("open metadata store: %w", err)
	}
	defer st.Close()
	if c.Driver != driverKubernetes {
		node, err := checkLocalNode(ctx, st, dataDir)
		if err != nil {
			return err
		}
		log.Info("local driver node", "node_id", node, "data_dir", dataDir)
	}
	// A single-node hoard owns every lease: nobody else runs tasks. Replicas
	// sharing PostgreSQL do not: another one's leases are live, and those of
	// a replica that died expire by themselves.
	if spec.Kind == storeSQLite {
		if err := st.ReleaseLeases(ctx); err != nil {
			return fmt.Errorf("release task leases: %w", err)
		}
	}

	sealer, err := secret.LoadOrCreateKey(filepath.Join(dataDir, "secret.key"))
	if err != nil {
		return err
	}
	// The CA of instance and --tls-auto certificates (tls.go).
	ca, caPath, err := loadCA(c, dataDir, sealer)
	if err != nil {
		return err
	}
	c.caPath = caPath
	var instanceCA *pki.CA
	if c.InstanceTLS && c.Driver != driverKubernetes {
		instanceCA = ca
	}
	addrs, err := netpool.Candidates(c.AddressPool)
	if err != nil {
		return fmt.Errorf("--address-pool: %w", err)
	}

	var haAddrs []string
	if c.HAAddressPool != "" {
		if haAddrs, err = netpool.Candidates(c.HAAddressPool); err != nil {
			return fmt.Errorf("--ha-address-pool: %w", err)
		}
	}
	// HA groups' stable addresses: a proxy inside hoard (package
	// groupproxy), routed by the service as topologies change.
	router := groupproxy.New(log.With("component", "ha"), 15*time.Second)
	defer router.Close()

	engines := newEngines(log)

	// Leases are written by one replica and judged by another: with a shared
	// store, time is the store's (the local clock corrected by its offset).
	now := time.Now
	if src, ok := st.(clock.Source); ok {
		clk := clock.New(src, log.With("component", "clock"))
		if err := clk.Sync(ctx); err != nil {
			return err
		}
		go clk.Run(ctx, time.Minute)
		now = clk.Now
		log.Info("clock follows the metadata store's", "offset", clk.Offset().String())
	}

	var (
		svc *service.Service
		drv driver.Driver
	)
	var datastores []string
	for _, e := range engines {
		datastores = append(datastores, e.Datastores()...)
	}
	tasks, _ := st.(store.TaskCounter)
	var templates func() []metrics.TemplateCount // the local driver's pool, once it exists
	// Scrapes begin once the listener serves, when svc and drv are set.
	mets := metrics.New(metrics.Config{
		Instances:  st,
		Tasks:      tasks,
		Datastores: datastores,
		UsedBytes:  func(ctx context.Context, id string) (int64, error) { return drv.UsedBytes(ctx, id) },
		ReplicaLag: func(ctx context.Context, in *model.Instance) (float64, bool) { return svc.ReplicaLag(ctx, in) },
		Templates: func() []metrics.TemplateCount {
			if templates == nil {
				return nil
			}
			return templates()
		},
		WarmPool: func() []metrics.WarmPoolCount {
			var out []metrics.WarmPoolCount
			for _, w := range svc.WarmPoolCounts() {
				out = append(out, metrics.WarmPoolCount{Datastore: w.Datastore, Version: w.Version, FlavorID: w.FlavorID,
					VolumeGB: w.VolumeGB, Ready: w.Ready, Building: w.Building, Target: w.Target})
			}
			return out
		},
		Now: now,
	})
	runner := task.New(st, task.Config{
		Now:           now,
		Workers:       c.Workers,
		Logger:        log.With("component", "task"),
		ShutdownGrace: c.ShutdownGrace,
		Hook:          crashHook(), // nil unless built with -tags hoardtest (crash.go)
		OnFinish:      mets.ObserveTask,
	})
	observe := func(ev driver.Event) {
		mets.ObserveEngine(ev)
		if svc != nil {
			svc.Observe(ev)
		}
	}
	creds := func(id string) (string, datastore.Secret) {
		if svc == nil {
			return "", ""
		}
		return svc.Credentials(id)
	}
	var versions func(context.Context, datastore.Engine) ([]datastore.Version, error) // nil: installed engines
	switch c.Driver {
	case driverKubernetes: // k8s.go
		kd, err := newKubernetesDriver(c, engines, observe, creds, log.With("component", "driver"))
		if err != nil {
			return fmt.Errorf("kubernetes driver: %w", err)
		}
		drv = kd
		// The catalogue is what the images run, not what is installed here.
		versions = imageVersions(kd.Image)
	default:
		var ld *local.Driver
		ld, err = local.New(local.Config{
			TemplatePool: c.TemplatePool,
			Root:         filepath.Join(dataDir, "instances"),
			User:         c.InstanceUser,
			Volumes:      c.Volumes,
			Engines:      engines,
			Observer:     observe,
			Credentials:  creds,
			TLS:          instanceCA,
			Logger:       log.With("component", "driver"),
		})
		if err != nil {
			return fmt.Errorf("local driver: %w", err)
		}
		drv = ld
		templates = func() []metrics.TemplateCount {
			var out []metrics.TemplateCount
			for _, t := range ld.Templates() {
				out = append(out, metrics.TemplateCount{Engine: t.Engine, Version: t.Version, Ready: t.Ready})
			}
			return out
		}
	}
	backups, err := backupConfig(c, dataDir) // backups.go
	if err != nil {
		return err
	}
	var caCert []byte
	if instanceCA != nil {
		caCert = instanceCA.CertPEM()
	}
	svc = service.New(service.Config{
		CACert:    caCert,
		Now:       now,
		Store:     st,
		Driver:    drv,
		Engines:   engines,
		Sealer:    sealer,
		Notify:    runner.Notify,
		Addresses: addrs,
		Versions:  versions,
		// MariaDB's primary datastore, "mysql", as Rackspace's default.
		DefaultDatastore: defaultDatastore,
		MaxVolumeGB:      c.MaxVolumeSize,
		MaxInstances:     c.MaxInstances,
		// Quota defaults of projects without their own (mgmt/quotas).
		MaxProjectVolumeGB: c.MaxVolumes,
		MaxProjectReplicas: c.MaxReplicas,
		// Root is refused where instances share one OS user unless the
		// operator allows it (the local driver warns at start).
		AllowSharedRoot: c.AllowSharedRoot,
		// The built-in identity's projects are in st: a create checks its
		// project there, serialised with the project's deletion.
		RequireProjects: c.keystone == nil,
		Backups:         backups,
		OnBackup:        mets.ObserveBackup,
		FailoverAfter:   c.FailoverAfter,
		HAAddresses:     haAddrs,
		HAFailoverAfter: c.HAFailoverAfter,
		Router:          router,
		WarmPool:        c.warmPool,
		Logger:          log.With("component", "service"),
	})
	if err := svc.SeedCatalog(ctx); err != nil {
		return err
	}
	if err := svc.CheckWarmPool(ctx); err != nil {
		return fmt.Errorf("--warm-pool: %w", err)
	}
	for _, d := range svc.Definitions() {
		runner.Register(d)
	}

	// The API's tokens: hoard's own identity, or an existing Keystone's
	// (then /identity/ is not served).
	var auth api.Authenticator
	var identityHandler http.Handler
	if c.keystone != nil {
		ks, err := keystoneAuth(ctx, c, now, log) // keystone.go
		if err != nil {
			return err
		}
		auth = ks
	} else {
		ids := identity.New(st, identity.Config{
			PublicURL: c.PublicURL,
			Region:    c.Region,
			TokenTTL:  c.TokenTTL,
			Now:       now,
			Logger:    log.With("component", "identity"),
			// troveclient downloads published guest logs from the catalog's
			// object-store (api.SwiftPath); backups are always on.
			ObjectStorePath: api.SwiftPath,
		})
		if err := bootstrapAdmin(ctx, ids, c, dataDir, log); err != nil {
			return err
		}
		auth, identityHandler = ids, ids.Handler()
	}
	setup.Close() // the data directory's files are in place

	if err := svc.Recover(ctx); err != nil {
		return err
	}

	// /metrics is on the API listener unless it has one of its own.
	apiMetrics := mets.Handler()
	var metricsSrv *http.Server
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", apiMetrics)
		metricsSrv = &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		apiMetrics = nil
	}
	srv := api.New(api.Config{
		PublicURL:    c.PublicURL, // links never follow the Host header
		MaxBodyBytes: c.MaxBodyBytes,
		RateLimit:    c.RateLimit,
		Identity:     identityHandler,
		Metrics:      apiMetrics,
		Observe:      mets.ObserveRequest,
		Logger:       log.With("component", "api"),
	}, svc, auth)

	// The web dashboard shares the listener; every page is a client of the
	// API handler above, under the logged-in user's token. It logs users in
	// through the built-in identity: behind an existing Keystone it is off.
	root := http.NewServeMux()
	dashURL := ""
	if identityHandler != nil {
		dash := dashboard.New(dashboard.Config{
			API:       srv.Handler(),
			Auth:      auth,
			PublicURL: c.PublicURL,
			Logger:    log.With("component", "dashboard"),
		})
		root.Handle(dashboard.Prefix, dash.Handler())
		root.Handle("GET /dashboard", http.RedirectHandler(dashboard.Prefix, http.StatusMovedPermanently))
		dashURL = c.PublicURL + dashboard.Prefix
	} else {
		log.Info("the web dashboard is off: it logs users in through hoard's built-in identity, not an existing Keystone")
	}
	root.Handle("/", srv.Handler())
	httpSrv := &http.Server{
		Handler:           root,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	if c.apiTLS() {
		tc, err := apiTLSConfig(c, ca, log.With("component", "api"))
		if err != nil {
			return err
		}
		ln = tls.NewListener(ln, tc)
	}
	runCtx, stopRunner := context.WithCancel(context.Background())
	runnerDone := make(chan error, 1)
	go func() { runnerDone <- runner.Run(runCtx) }()
	go svc.RunScheduler(runCtx, 30*time.Second)
	// Failover is checked twice a second: HA groups fail over after
	// --ha-failover-after (3 s by default), other sets after --failover-after.
	go svc.RunFailover(runCtx, 500*time.Millisecond)
	go svc.RunHA(runCtx, 250*time.Millisecond) // returns at once without HA addresses
	go svc.RunWarmPool(runCtx, 2*time.Second)  // returns once no pool instance is left when there is no --warm-pool
	serveDone := make(chan error, 1)
	go func() { serveDone <- httpSrv.Serve(ln) }()
	if metricsSrv != nil {
		go func() {
			if err := metricsSrv.Serve(metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics listener", "err", err)
			}
		}()
		defer metricsSrv.Close()
		log.Info("metrics served", "metrics_listen", metricsLn.Addr().String())
	}
	log.Info("hoard serving", "listen", ln.Addr().String(), "dashboard", dashURL, "public_url", c.PublicURL, "data_dir", dataDir, "store", spec.String(), "version", version)
	if c.PublicURL == "http://"+c.Listen && unspecifiedListen(c.Listen) {
		log.Warn("--public-url is not set and --listen names no host: links and the service catalog point at " + c.PublicURL +
			"; set --public-url to the URL clients use")
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case sig := <-sigs:
		log.Info("shutting down", "signal", sig.String())
	case err := <-serveDone:
		stopRunner()
		<-runnerDone
		drv.Close()
		return fmt.Errorf("http server: %w", err)
	}
	// Stop accepting work, let in-flight requests finish, then let the task
	// runner finish or hand back its steps. Engines keep running.
	srv.SetDraining(true)
	shutCtx, cancel := context.WithTimeout(context.Background(), c.ShutdownGrace)
	defer cancel()
	if err := httpSrv.Shutdown(shutCtx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	stopRunner()
	if err := <-runnerDone; err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("task runner", "err", err)
	}
	if err := drv.Close(); err != nil {
		log.Warn("driver close", "err", err)
	}
	if c.Driver == driverKubernetes {
		log.Info("stopped; instances keep running as Kubernetes workloads")
	} else {
		log.Info("stopped; database engines keep running, and the next hoard serve takes them over; to stop them too, run: hoard stop-all --data-dir "+dataDir,
			"data_dir", dataDir)
	}
	return nil
}

// bootstrapAdmin makes sure the admin user and project exist. Without a
// configured password, a generated one is written to a file only the owner
// can read, together with an openrc file for the OpenStack CLI.
func bootstrapAdmin(ctx context.Context, ids *identity.Service, c *serveConfig, dataDir string, log *slog.Logger) error {
	pwFile := filepath.Join(dataDir, "admin-password")
	pw := c.AdminPassword
	if pw == "" {
		b, err := os.ReadFile(pwFile)
		switch {
		case err == nil:
			pw = strings.TrimSpace(string(b))
		case errors.Is(err, fs.ErrNotExist):
			pw = secret.Password(18)
			if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
				return fmt.Errorf("write admin password: %w", err)
			}
			log.Info("generated the admin password", "file", pwFile)
		default:
			return fmt.Errorf("read admin password: %w", err)
		}
	}
	if err := ids.Bootstrap(ctx, c.AdminUser, pw, c.AdminProject); err != nil {
		return fmt.Errorf("bootstrap identity: %w", err)
	}
	rc := fmt.Sprintf(`# Credentials of hoard's bootstrap admin; source this file to use the OpenStack CLI.
export OS_AUTH_URL=%s/identity/v3
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=%s
export OS_PASSWORD='%s'
export OS_PROJECT_NAME=%s
export OS_USER_DOMAIN_NAME=%s
export OS_PROJECT_DOMAIN_NAME=%s
export OS_REGION_NAME=%s
`, c.PublicURL, c.AdminUser, strings.ReplaceAll(pw, "'", `'\''`), c.AdminProject,
		model.DefaultDomainName, model.DefaultDomainName, c.Region)
	if c.TLSAuto {
		rc += "export OS_CACERT=" + c.caPath + "\n"
	}
	if err := os.WriteFile(filepath.Join(dataDir, "admin-openrc"), []byte(rc), 0o600); err != nil {
		return fmt.Errorf("write admin-openrc: %w", err)
	}
	return nil
}

// defaultDatastore is the datastore of a create that names none:
// MariaDB's primary one, as Rackspace's default.
const defaultDatastore = "mysql"

// newEngines returns the engines hoard runs, by name; log may be nil. It
// only builds them: nothing is looked up or started.
func newEngines(log *slog.Logger) map[string]datastore.Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	engines := map[string]datastore.Engine{}
	maria := mariadb.New(mariadb.Config{Logger: log.With("engine", "mariadb")})
	engines[maria.Name()] = maria
	pg := postgresql.New(postgresql.Config{Logger: log.With("engine", "postgresql")})
	engines[pg.Name()] = pg
	rd := redis.New(redis.Config{Logger: log.With("engine", "redis")})
	engines[rd.Name()] = rd
	return engines
}

// The service serves the guest log routes (api.LogBackend is optional).
var (
	_ api.LogBackend       = (*service.Service)(nil)
	_ api.LogObjectBackend = (*service.Service)(nil)
)
