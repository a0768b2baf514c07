package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// Namespace prefixes every metric name.
const Namespace = "hoard"

// Config is what the scrape-time collectors read. Every field is optional:
// a nil one leaves its metrics out.
type Config struct {
	// Instances is read at each scrape for hoard_instances and the
	// per-instance gauges.
	Instances store.Instances
	// Tasks gives hoard_task_queue_depth.
	Tasks store.TaskCounter
	// Datastores are the datastore type names hoard offers: hoard_instances
	// has a series for each of them and each status, zero included.
	Datastores []string
	// UsedBytes measures an instance's used volume
	// (hoard_instance_volume_used_bytes).
	UsedBytes func(ctx context.Context, id string) (int64, error)
	// ReplicaLag reads a replica's lag behind its source in seconds, false
	// when it cannot tell (hoard_replica_lag_seconds).
	ReplicaLag func(ctx context.Context, inst *model.Instance) (float64, bool)
	// Templates counts the ready pre-initialised data directories of each
	// engine version (hoard_template_ready); nil leaves it out.
	Templates func() []TemplateCount
	// WarmPool reports the warm pool's entries (hoard_warm_pool_ready,
	// hoard_warm_pool_building, hoard_warm_pool_target); nil leaves them
	// out.
	WarmPool func() []WarmPoolCount
	// ScrapeTimeout bounds the store reads and measurements of one scrape
	// (default 5 s).
	ScrapeTimeout time.Duration
	// Now is the clock of task and backup durations (default time.Now).
	Now func() time.Time
}

// Metrics is hoard's registry. Its methods are safe for concurrent use.
type Metrics struct {
	cfg            Config
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	tasks          *prometheus.CounterVec
	taskDuration   *prometheus.HistogramVec
	engineEvents   *prometheus.CounterVec
	backupSize     *prometheus.HistogramVec
	backupDuration *prometheus.HistogramVec
}

// New returns a registry with the Go runtime and process collectors, the
// API, task, engine and backup metrics, and the scrape-time collectors
// cfg allows.
func New(cfg Config) *Metrics {
	if cfg.ScrapeTimeout <= 0 {
		cfg.ScrapeTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Metrics{
		cfg: cfg,
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "api", Name: "requests_total",
			Help: "API requests by method, route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "api", Name: "request_duration_seconds",
			Help:    "API request latency by method and route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "task", Name: "finished_total",
			Help: "Tasks that reached a final state, by kind and state (done or failed).",
		}, []string{"kind", "state"}),
		taskDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "task", Name: "duration_seconds",
			Help:    "Time from a task's creation to its final state, by kind and state.",
			Buckets: []float64{.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"kind", "state"}),
		engineEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "engine", Name: "restarts_total",
			Help: "Engines that exited unasked and that supervision restarts (event=exited), and those that answer again (event=recovered).",
		}, []string{"event"}),
		backupSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "backup", Name: "size_bytes",
			Help:    "Size of completed backup artifacts, by datastore.",
			Buckets: prometheus.ExponentialBuckets(1<<20, 4, 11), // 1 MiB to 1 TiB
		}, []string{"datastore"}),
		backupDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "backup", Name: "duration_seconds",
			Help:    "Time from a backup's request to its completion, by datastore.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200},
		}, []string{"datastore"}),
	}
	// Known label values exist at zero, so that rate() and alerts see them
	// before the first event.
	for _, ev := range []driver.EventKind{driver.EventExited, driver.EventRecovered} {
		m.engineEvents.WithLabelValues(string(ev))
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.tasks, m.taskDuration, m.engineEvents, m.backupSize, m.backupDuration,
	)
	if cfg.Instances != nil {
		m.reg.MustRegister(newInstanceCollector(cfg))
	}
	if cfg.Templates != nil {
		m.reg.MustRegister(&templateCollector{cfg: cfg, desc: prometheus.NewDesc(
			prometheus.BuildFQName(Namespace, "template", "ready"),
			"Data directories initialised ahead of time and ready for a create, by engine and version.",
			[]string{"engine", "version"}, nil)})
	}
	if cfg.WarmPool != nil {
		labels := []string{"datastore", "version", "flavor", "volume_gb"}
		m.reg.MustRegister(&warmCollector{cfg: cfg,
			ready: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "warm_pool", "ready"),
				"Warm pool instances started and ready to be handed to a create.", labels, nil),
			building: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "warm_pool", "building"),
				"Warm pool instances being created or not answering.", labels, nil),
			target: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "warm_pool", "target"),
				"Warm pool instances wanted (--warm-pool).", labels, nil),
		})
	}
	if cfg.Tasks != nil {
		m.reg.MustRegister(&queueCollector{cfg: cfg, desc: prometheus.NewDesc(
			prometheus.BuildFQName(Namespace, "task", "queue_depth"),
			"Tasks not finished: pending (waiting for a worker) and running.", []string{"state"}, nil)})
	}
	return m
}

// ObserveRequest records one API request; route is the route that served
// it ("" for none, recorded as "unmatched" to bound cardinality).
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// ObserveTask records a task that reached its final state, and how long
// it took since it was created.
func (m *Metrics) ObserveTask(t *model.Task, state model.TaskState) {
	m.tasks.WithLabelValues(string(t.Kind), string(state)).Inc()
	if !t.Created.IsZero() {
		m.taskDuration.WithLabelValues(string(t.Kind), string(state)).Observe(max(m.cfg.Now().Sub(t.Created).Seconds(), 0))
	}
}

// ObserveEngine records a driver event: an engine that exited unasked
// (supervision restarts it) or that answers again.
func (m *Metrics) ObserveEngine(ev driver.Event) {
	switch ev.Kind {
	case driver.EventExited, driver.EventRecovered:
		m.engineEvents.WithLabelValues(string(ev.Kind)).Inc()
	}
}

// ObserveBackup records a completed backup: its size, and the time from
// its request to now.
func (m *Metrics) ObserveBackup(b *model.Backup) {
	ds := b.Datastore
	if ds == "" {
		ds = "unknown"
	}
	m.backupSize.WithLabelValues(ds).Observe(float64(b.Size))
	if !b.Created.IsZero() {
		m.backupDuration.WithLabelValues(ds).Observe(max(m.cfg.Now().Sub(b.Created).Seconds(), 0))
	}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// queueCollector reads the task queue's depth at scrape time.
type queueCollector struct {
	cfg  Config
	desc *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.ScrapeTimeout)
	defer cancel()
	pending, running, err := c.cfg.Tasks.CountTasks(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(pending), string(model.TaskPending))
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(running), string(model.TaskRunning))
}

// TemplateCount is the number of ready pre-initialised data directories
// of one engine version.
type TemplateCount struct {
	Engine, Version string
	Ready           int
}

// WarmPoolCount is one warm pool entry's instances.
type WarmPoolCount struct {
	Datastore, Version      string
	FlavorID, VolumeGB      int
	Ready, Building, Target int
}

// warmCollector reads the warm pool at scrape time.
type warmCollector struct {
	cfg                     Config
	ready, building, target *prometheus.Desc
}

func (c *warmCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.ready
	ch <- c.building
	ch <- c.target
}

func (c *warmCollector) Collect(ch chan<- prometheus.Metric) {
	for _, w := range c.cfg.WarmPool() {
		l := []string{w.Datastore, w.Version, strconv.Itoa(w.FlavorID), strconv.Itoa(w.VolumeGB)}
		ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, float64(w.Ready), l...)
		ch <- prometheus.MustNewConstMetric(c.building, prometheus.GaugeValue, float64(w.Building), l...)
		ch <- prometheus.MustNewConstMetric(c.target, prometheus.GaugeValue, float64(w.Target), l...)
	}
}

// templateCollector reads the template pool at scrape time.
type templateCollector struct {
	cfg  Config
	desc *prometheus.Desc
}

func (c *templateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *templateCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.cfg.Templates() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(t.Ready), t.Engine, t.Version)
	}
}
