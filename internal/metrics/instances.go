package metrics

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// Statuses are the instance statuses hoard_instances always has a series
// for, zero included.
var Statuses = []model.InstanceStatus{
	model.StatusBuild, model.StatusActive, model.StatusReboot, model.StatusResize, model.StatusBackup,
	model.StatusRestartRequired, model.StatusShutdown, model.StatusBlocked, model.StatusFailed,
	model.StatusError, model.StatusDetach, model.StatusPromote, model.StatusEject,
}

// measureWorkers bounds the volume and lag measurements run at once.
const measureWorkers = 4

// instanceCollector reads the instances at scrape time: their count by
// status and datastore, and for each running one its volume (size and use)
// and, for a replica, its lag.
type instanceCollector struct {
	cfg                    Config
	count, size, used, lag *prometheus.Desc
}

func newInstanceCollector(cfg Config) *instanceCollector {
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "", n) }
	return &instanceCollector{
		cfg: cfg,
		count: prometheus.NewDesc(name("instances"),
			"Instances by status and datastore.", []string{"status", "datastore"}, nil),
		size: prometheus.NewDesc(name("instance_volume_size_bytes"),
			"Volume size of each instance.", []string{"instance_id", "datastore"}, nil),
		used: prometheus.NewDesc(name("instance_volume_used_bytes"),
			"Volume space used by each running instance.", []string{"instance_id", "datastore"}, nil),
		lag: prometheus.NewDesc(name("replica_lag_seconds"),
			"How far each running read replica applies changes behind its source.", []string{"instance_id", "source_id", "datastore"}, nil),
	}
}

func (c *instanceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.count
	ch <- c.size
	ch <- c.used
	ch <- c.lag
}

type countKey struct {
	status    model.InstanceStatus
	datastore string
}

func (c *instanceCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.ScrapeTimeout)
	defer cancel()
	insts, err := c.list(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.count, err)
		return
	}
	counts := map[countKey]int{}
	for _, s := range Statuses {
		for _, ds := range c.cfg.Datastores {
			counts[countKey{s, ds}] = 0
		}
	}
	var running []*model.Instance
	for _, in := range insts {
		counts[countKey{in.Status, in.Datastore}]++
		ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(in.VolumeSize)*(1<<30), in.ID, in.Datastore)
		switch in.Status {
		case model.StatusActive, model.StatusRestartRequired, model.StatusBlocked:
			running = append(running, in)
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(n), string(k.status), k.datastore)
	}
	c.measure(ctx, ch, running)
}

// list reads every instance, page by page.
func (c *instanceCollector) list(ctx context.Context) ([]*model.Instance, error) {
	var all []*model.Instance
	marker := ""
	for {
		page, err := c.cfg.Instances.ListInstances(ctx, "", store.Page{Marker: marker, Limit: 1000})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < 1000 {
			return all, nil
		}
		marker = page[len(page)-1].ID
	}
}

// measure reads the used volume of each running instance and the lag of
// each running replica, a few at a time; what fails or is not measured
// within the scrape's time is left out.
func (c *instanceCollector) measure(ctx context.Context, ch chan<- prometheus.Metric, running []*model.Instance) {
	if c.cfg.UsedBytes == nil && c.cfg.ReplicaLag == nil {
		return
	}
	work := make(chan *model.Instance)
	var wg sync.WaitGroup
	for range min(measureWorkers, len(running)) {
		wg.Go(func() {
			for in := range work {
				var ms []prometheus.Metric
				if f := c.cfg.UsedBytes; f != nil {
					if b, err := f(ctx, in.ID); err == nil {
						ms = append(ms, prometheus.MustNewConstMetric(c.used, prometheus.GaugeValue, float64(b), in.ID, in.Datastore))
					}
				}
				if f := c.cfg.ReplicaLag; f != nil && in.ReplicaOf != "" {
					if lag, ok := f(ctx, in); ok {
						ms = append(ms, prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, lag, in.ID, in.ReplicaOf, in.Datastore))
					}
				}
				for _, m := range ms {
					ch <- m
				}
			}
		})
	}
	for _, in := range running {
		if ctx.Err() != nil {
			break
		}
		work <- in
	}
	close(work)
	wg.Wait()
}
