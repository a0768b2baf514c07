package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// Namespace prefixes every metric name.
const Namespace = "hoard"

// Metrics is hoard's registry. Its methods are safe for concurrent use.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	tasks    *prometheus.CounterVec
}

// New returns a registry with the Go runtime and process collectors, the
// API and task metrics, and, if st is non-nil, a gauge of instances by
// status read from the store at each scrape.
func New(st store.Instances) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "api", Name: "requests_total",
			Help: "API requests by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "api", Name: "request_duration_seconds",
			Help:    "API request latency by method and route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"method", "route"}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "task", Name: "finished_total",
			Help: "Tasks that reached a final state, by kind and state (done or failed).",
		}, []string{"kind", "state"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.tasks,
	)
	if st != nil {
		m.reg.MustRegister(&instanceCollector{st: st, desc: prometheus.NewDesc(
			prometheus.BuildFQName(Namespace, "", "instances"),
			"Instances by status.", []string{"status"}, nil)})
	}
	return m
}

// ObserveRequest records one API request; route is the pattern that
// served it ("" for none, recorded as "unmatched" to bound cardinality).
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// ObserveTask records a task that reached its final state.
func (m *Metrics) ObserveTask(t *model.Task, state model.TaskState) {
	m.tasks.WithLabelValues(string(t.Kind), string(state)).Inc()
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// instanceCollector counts instances by status at scrape time.
type instanceCollector struct {
	st   store.Instances
	desc *prometheus.Desc
}

func (c *instanceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *instanceCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts := map[model.InstanceStatus]int{}
	marker := ""
	for {
		page, err := c.st.ListInstances(ctx, "", store.Page{Marker: marker, Limit: 1000})
		if err != nil {
			ch <- prometheus.NewInvalidMetric(c.desc, err)
			return
		}
		for _, in := range page {
			counts[in.Status]++
		}
		if len(page) < 1000 {
			break
		}
		marker = page[len(page)-1].ID
	}
	for status, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(status))
	}
}
