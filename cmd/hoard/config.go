package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hoard-db/hoard/internal/keystone"
	"github.com/hoard-db/hoard/internal/service"
)

var errUsage = errors.New("usage")

// errHelp is a help request: its text went to stdout, exit code 0.
var errHelp = errors.New("help")

// helpToStdout sends fs's usage to stdout when args ask for help, as the
// client commands do; a mistake's usage stays on stderr.
func helpToStdout(fs *flag.FlagSet, args []string) {
	for _, a := range args {
		switch a {
		case "--":
			return
		case "-h", "-help", "--help":
			fs.SetOutput(os.Stdout)
			return
		}
	}
}

// serveConfig is the configuration of `hoard serve`. Every flag is also an
// environment variable (HOARD_ + the flag name in upper case, '-' → '_');
// a flag on the command line wins over the environment.
type serveConfig struct {
	Listen        string
	MetricsListen string
	PublicURL     string
	DataDir       string
	Store         string
	AdminUser     string
	AdminPassword string
	AdminProject  string
	AddressPool   string
	HAAddressPool string
	Region        string
	LogLevel      string
	LogFormat     string
	RateLimit     int
	MaxBodyBytes  int64
	MaxVolumeSize int
	MaxInstances  int
	MaxBackups    int
	MaxVolumes    int
	MaxReplicas   int
	BackupStorage string
	InstanceUser  string
	// AllowSharedRoot lets tenants enable root where instances share one
	// OS user (hoard not root, or --instance-user).
	AllowSharedRoot bool
	Volumes         string
	// Kubernetes driver (k8s.go).
	Driver             string
	Kubeconfig         string
	K8sNamespacePrefix string
	K8sStorageClass    string
	K8sImages          string
	K8sReadiness       string
	K8sKeepVolumes     bool
	K8sHoardNamespace  string
	K8sHoardPodLabels  string
	Workers            int
	TemplatePool       int
	WarmPoolSpec       string
	warmPool           []service.WarmPool // parsed from WarmPoolSpec by validate
	ShutdownGrace      time.Duration
	TokenTTL           time.Duration
	FailoverAfter      time.Duration
	HAFailoverAfter    time.Duration
	// An existing Keystone instead of the built-in identity (keystone.go).
	KeystoneURL              string
	KeystoneCloud            string
	KeystoneServiceUser      string
	KeystoneServicePassword  string
	KeystoneServiceProject   string
	KeystoneServiceDomain    string
	KeystoneCacheTTL         time.Duration
	KeystoneRegisterEndpoint bool
	// TLS of the API and the instances (tls.go).
	tlsConfig
	caPath string // the CA certificate's file, set by serve
	// keystone is the resolved Keystone configuration (nil: built-in
	// identity), set by validate.
	keystone *keystone.Config
}

func envName(flagName string) string {
	return "HOARD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func parseServeFlags(args []string) (*serveConfig, error) {
	c := &serveConfig{}
	fs := flag.NewFlagSet("hoard serve", flag.ContinueOnError)
	str := func(p *string, name, def, help string) {
		fs.StringVar(p, name, def, fmt.Sprintf("%s (env %s)", help, envName(name)))
	}
	num := func(p *int, name string, def int, help string) {
		fs.IntVar(p, name, def, fmt.Sprintf("%s (env %s)", help, envName(name)))
	}
	dur := func(p *time.Duration, name string, def time.Duration, help string) {
		fs.DurationVar(p, name, def, fmt.Sprintf("%s (env %s)", help, envName(name)))
	}
	str(&c.Listen, "listen", "127.0.0.1:8779", "address the API and identity service listen on")
	str(&c.MetricsListen, "metrics-listen", "", "serve /metrics on this address of its own instead of on --listen (e.g. 127.0.0.1:9779)")
	str(&c.PublicURL, "public-url", "", "base URL clients reach this service at (default http://<listen>)")
	str(&c.DataDir, "data-dir", "./hoard-data", "directory for metadata, keys and instances")
	str(&c.Store, "store", "", "metadata store: sqlite:///path/hoard.db or postgres://... (default: SQLite in the data dir)")
	str(&c.AdminUser, "admin-user", "admin", "name of the bootstrap admin user")
	str(&c.AdminPassword, "admin-password", "", "password of the bootstrap admin user (default: generated into <data-dir>/admin-password)")
	str(&c.AdminProject, "admin-project", "admin", "name of the bootstrap admin project")
	str(&c.AddressPool, "address-pool", "127.0.1.0/24", "CIDR of the loopback addresses given to instances")
	str(&c.HAAddressPool, "ha-address-pool", "127.0.2.0/24", "CIDR of the loopback addresses given to HA groups (their write and read ports); empty turns HA groups off")
	str(&c.Region, "region", "RegionOne", "region name in the service catalog")
	str(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	str(&c.LogFormat, "log-format", "text", "text or json")
	num(&c.RateLimit, "rate-limit", 1200, "API requests per minute per project; 0 disables rate limiting")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", 1<<20, fmt.Sprintf("largest accepted request body (env %s)", envName("max-body-bytes")))
	num(&c.MaxVolumeSize, "max-volume-size", 10, "largest volume (GB) one instance may have")
	num(&c.MaxInstances, "max-instances", 10, "default quota of instances per project, read replicas included; 0 means no limit")
	num(&c.MaxVolumes, "max-volumes", 40, "default quota of volume GB per project; 0 means no limit")
	num(&c.MaxBackups, "max-backups", 50, "default quota of backups per project; 0 means no limit")
	num(&c.MaxReplicas, "max-replicas", 0, "default quota of read replicas per project (they count as instances too); 0 means no limit")
	str(&c.BackupStorage, "backup-storage", "", "backup artifacts: a directory (default <data-dir>/backups) or s3://bucket/prefix (HOARD_S3_* env)")
	str(&c.Volumes, "volumes", "", "local driver volumes: loop (a size-enforced ext4 image per instance; the default as root) or dir (a plain directory, size not enforced)")
	str(&c.InstanceUser, "instance-user", "", "one OS user that runs every database engine (default: as root, a user of its own per instance, which isolates tenants; else the current user)")
	fs.BoolVar(&c.AllowSharedRoot, "allow-shared-root", false, fmt.Sprintf("allow root enable although instances share one OS user (then one tenant's root reaches every instance: only for a developer alone; env %s)", envName("allow-shared-root")))
	str(&c.Driver, "driver", "local", "where instances run: local (processes on this host) or kubernetes")
	str(&c.Kubeconfig, "kubeconfig", "", "kubeconfig file of the kubernetes driver (default: in-cluster config, else KUBECONFIG or ~/.kube/config)")
	str(&c.K8sNamespacePrefix, "k8s-namespace-prefix", "hoard-", "kubernetes driver: prefix of the per-tenant namespaces")
	str(&c.K8sStorageClass, "k8s-storage-class", "", "kubernetes driver: storage class of instance volumes (default: the cluster's default); must allow expansion")
	str(&c.K8sImages, "k8s-images", "", "kubernetes driver: engine images, e.g. mariadb=registry/mariadb:10.11,postgresql=...,redis=... (default: Docker Hub official images)")
	str(&c.K8sReadiness, "k8s-readiness", "", `kubernetes driver: readiness probe commands for images without the engines' own tools: engine=command pairs separated by ';', a command split on spaces (no shell) or a JSON array, e.g. 'mariadb=healthcheck.sh --connect;redis=["sh","-c","redis-cli ping | grep -qx PONG"]'`)
	str(&c.K8sHoardNamespace, "k8s-hoard-namespace", "", "kubernetes driver: the namespace hoard's own pods run in, let through instances' network policies (default in a cluster: the service account's namespace; without one, allowed_cidrs are refused)")
	str(&c.K8sHoardPodLabels, "k8s-hoard-pod-labels", "", "kubernetes driver: labels of hoard's own pods in that namespace, e.g. app=hoard (default: every pod of the namespace)")
	fs.BoolVar(&c.K8sKeepVolumes, "k8s-keep-volumes", false, fmt.Sprintf("kubernetes driver: keep an instance's volume claim when it is deleted (env %s)", envName("k8s-keep-volumes")))
	num(&c.TemplatePool, "template-pool", 2, "local driver: data directories initialised ahead of time per engine, each used by one create instead of its init and refilled in the background; 0 disables")
	str(&c.WarmPoolSpec, "warm-pool", "", "local driver: instances created and started ahead of time, each handed to a create of the same datastore version, flavor and volume size that needs no configuration group, allowed_cidrs or restore; entries separated by spaces, each datastore[:version]=N[,flavor=ID][,volume=GB] (default flavor: the least RAM; volume 1 GB), e.g. 'mysql:10.11=2 postgresql=1,flavor=2'")
	num(&c.Workers, "workers", 32, "task runner workers (each runs one task; most of a task is waiting on an engine)")
	dur(&c.ShutdownGrace, "shutdown-grace", 10*time.Second, "how long a shutdown waits for requests and task steps to finish")
	dur(&c.TokenTTL, "token-ttl", 12*time.Hour, "lifetime of identity tokens")
	dur(&c.FailoverAfter, "failover-after", 0, "automatic failover: eject a source with replicas whose engine has been down this long (0: off)")
	keystoneFlags(fs, c, str, dur) // keystone.go
	tlsFlags(fs, c, str)           // tls.go
	dur(&c.HAFailoverAfter, "ha-failover-after", 3*time.Second, "HA groups: fail over when the source's engine has been down this long (always on)")

	// Environment first, so that flags given on the command line win.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: %w", envName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	helpToStdout(fs, args)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "hoard serve: unexpected arguments %q\n", fs.Args())
		return nil, errUsage
	}
	return c, c.validate()
}

// validate reports every problem at once.
func (c *serveConfig) validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("--listen must not be empty"))
	}
	if c.MetricsListen != "" && c.MetricsListen == c.Listen {
		errs = append(errs, errors.New("--metrics-listen must differ from --listen (leave it empty to serve /metrics on --listen)"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if c.AdminUser == "" || c.AdminProject == "" {
		errs = append(errs, errors.New("--admin-user and --admin-project must not be empty"))
	}
	if c.HAFailoverAfter <= 0 {
		errs = append(errs, errors.New("--ha-failover-after must be positive"))
	}
	if c.FailoverAfter < 0 {
		errs = append(errs, errors.New("--failover-after must not be negative"))
	}
	if c.RateLimit < 0 || c.MaxInstances < 0 || c.MaxBackups < 0 || c.MaxVolumes < 0 || c.MaxReplicas < 0 {
		errs = append(errs, errors.New("--rate-limit, --max-instances, --max-volumes, --max-backups and --max-replicas must not be negative"))
	}
	if c.MaxVolumeSize < 1 {
		errs = append(errs, errors.New("--max-volume-size must be at least 1"))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("--max-body-bytes must be at least 1024"))
	}
	if _, err := parseStore(c.Store, c.DataDir); c.DataDir != "" && err != nil {
		errs = append(errs, fmt.Errorf("--store: %w", err))
	}
	errs = append(errs, c.validateDriver()...)   // k8s.go
	errs = append(errs, c.validateKeystone()...) // keystone.go
	errs = append(errs, c.validateTLS()...)      // tls.go
	if c.TemplatePool < 0 {
		errs = append(errs, fmt.Errorf("--template-pool %d: want 0 or more", c.TemplatePool))
	}
	c.warmPool = nil
	for f := range strings.FieldsSeq(c.WarmPoolSpec) {
		w, err := service.ParseWarmPool(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("--warm-pool: %w", err))
			continue
		}
		c.warmPool = append(c.warmPool, w)
	}
	if c.WarmPoolSpec != "" && c.Driver == driverKubernetes {
		errs = append(errs, errors.New("--warm-pool works with the local driver only: the kubernetes driver keeps each tenant's instances in the tenant's namespace"))
	}
	if c.Workers < 1 {
		errs = append(errs, errors.New("--workers must be at least 1"))
	}
	switch c.Volumes {
	case "", "loop", "dir":
	default:
		errs = append(errs, fmt.Errorf("--volumes %q: want loop or dir", c.Volumes))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("--log-format %q: want text or json", c.LogFormat))
	}
	if c.PublicURL != "" {
		if err := checkPublicURL(c.PublicURL); err != nil {
			errs = append(errs, fmt.Errorf("--public-url %q: %w", c.PublicURL, err))
		}
	} else {
		c.PublicURL = "http://" + c.Listen
		if c.apiTLS() {
			c.PublicURL = "https://" + c.Listen
		}
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	return errors.Join(errs...)
}

// checkPublicURL accepts an absolute http or https URL with a host and
// neither credentials, query nor fragment: every link of the API and of the
// identity catalog is this URL followed by a path.
func checkPublicURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("want an http:// or https:// URL")
	case u.Hostname() == "":
		return errors.New("want a host")
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errors.New("want no user, query or fragment")
	}
	return nil
}

// unspecifiedListen reports whether the --listen address names no host
// clients could reach (":8779", "0.0.0.0:8779", "[::]:8779"): the default
// public URL built from it is no use to clients on other machines.
func unspecifiedListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return host == "" || err == nil && ip.IsUnspecified()
}
