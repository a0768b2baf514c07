package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/api"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/identity"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/pgtest"
	"github.com/hoard-db/hoard/internal/secret"
	"github.com/hoard-db/hoard/internal/service"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/postgres"
	"github.com/hoard-db/hoard/internal/store/sqlite"
)

// benchInstances is how many instances the API benchmark puts in the
// metadata store.
const benchInstances = 10000

// usageDriver answers only UsedBytes (what GET /instances/{id} asks the
// driver for); any other call would be a bug in the benchmark.
type usageDriver struct{ driver.Driver }

func (usageDriver) UsedBytes(context.Context, string) (int64, error) { return 64 << 20, nil }

// BenchmarkAPI measures requests/s, p50 and p99 of GET /instances/{id} and
// of a page of GET /instances (limit 100, random marker) over 10,000
// instances in a SQLite metadata store, served by internal/api +
// internal/service + internal/identity over loopback TCP, at 1, 16 and 64
// concurrent clients; and the same for a bare net/http handler that writes
// the same bytes, in the same run. Client and server share the machine.
func BenchmarkAPI(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "hoard.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	benchAPI(b, "SQLite", st, nil)
}

// BenchmarkAPIPostgresStore is BenchmarkAPI with the PostgreSQL metadata
// store (what `hoard serve --store postgres://...` opens) on a throwaway
// server of internal/pgtest (loopback TCP, fsync off: the benchmark
// reads), which shares the machine with hoard and the clients.
func BenchmarkAPIPostgresStore(b *testing.B) {
	dsn := pgtest.Start(b).NewDatabase(b)
	st, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	// Once seeded, the table is vacuumed and analysed, as autovacuum soon
	// would after 10,000 inserts: the benchmark measures the steady state.
	benchAPI(b, "PostgreSQL", st, func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), `VACUUM ANALYZE instances`); err != nil {
			b.Fatal(err)
		}
	})
}

// benchAPI seeds st with benchInstances instances of one tenant, runs
// seeded (if not nil) and measures the API over it against the bare
// handler; kind names the store in the table.
func benchAPI(b *testing.B, kind string, st store.Store, seeded func()) {
	ctx := context.Background()
	ids := identity.New(st, identity.Config{Logger: slog.New(slog.DiscardHandler)})
	if err := ids.Bootstrap(ctx, "admin", adminPassword, "admin"); err != nil {
		b.Fatal(err)
	}
	tok, p, err := ids.Login(ctx, "admin", adminPassword, "admin")
	if err != nil {
		b.Fatal(err)
	}
	tenant := p.ProjectID
	sealer, err := secret.New(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	svc := service.New(service.Config{Store: st, Driver: usageDriver{}, Sealer: sealer, Logger: slog.New(slog.DiscardHandler)})
	now := time.Now().UTC().Truncate(time.Second)
	var idsList []string
	for i := range benchInstances {
		in := &model.Instance{ID: uuid.NewString(), TenantID: tenant, Name: fmt.Sprintf("bench-%05d", i),
			Status: model.StatusActive, FlavorID: 1, VolumeSize: 1, Datastore: "mysql", DatastoreVersion: "10.11",
			Address: fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250), Port: 3306, Created: now, Updated: now}
		if err := st.CreateInstance(ctx, in, nil, nil); err != nil {
			b.Fatal(err)
		}
		idsList = append(idsList, in.ID)
	}
	if seeded != nil {
		seeded()
	}
	slices.Sort(idsList)
	// Access logs are formatted as in production, but not written out.
	srv := api.New(api.Config{Identity: ids.Handler(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, svc, ids)
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(hs.Close)

	base := hs.URL + "/v1.0/" + tenant
	one := idsList[benchInstances/2]
	getBody := fetch(b, base+"/instances/"+one, string(tok))
	listURL := func(r *rand.Rand) string {
		return base + "/instances?limit=100&marker=" + idsList[r.IntN(benchInstances-100)]
	}
	listBody := fetch(b, base+"/instances?limit=100&marker="+idsList[benchInstances/2], string(tok))

	// The baseline writes the identical bytes: everything hoard does beyond
	// serving its answer (routing, authentication, the store, building and
	// encoding the view) counts against it.
	bare := func(body []byte) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}))
		b.Cleanup(s.Close)
		return s
	}
	bareGet, bareList := bare(getBody), bare(listBody)

	type row struct {
		what    string
		clients int
		h, r    loadResult
	}
	var rows []row
	b.ResetTimer()
	for _, clients := range []int{1, 16, 64} {
		rows = append(rows, row{"GET /instances/{id}", clients,
			load(clients, func(*rand.Rand) string { return base + "/instances/" + one }, string(tok)),
			load(clients, func(*rand.Rand) string { return bareGet.URL }, "")})
		rows = append(rows, row{"GET /instances?limit=100", clients,
			load(clients, listURL, string(tok)),
			load(clients, func(*rand.Rand) string { return bareList.URL }, "")})
	}
	b.StopTimer()
	fmt.Printf("\nAPI over %d instances in the %s store (%d-byte instance, %d-byte page)\n", benchInstances, kind,
		len(getBody), len(listBody))
	fmt.Printf("%-26s %7s %10s %10s %6s %9s %9s %9s %9s\n", "request", "clients", "hoard r/s", "bare r/s", "ratio",
		"hoard p50", "hoard p99", "bare p50", "bare p99")
	for _, r := range rows {
		fmt.Printf("%-26s %7d %10.0f %10.0f %6.2f %9s %9s %9s %9s\n", r.what, r.clients, r.h.rps, r.r.rps, r.h.rps/r.r.rps,
			r.h.p50.Round(10*time.Microsecond), r.h.p99.Round(10*time.Microsecond),
			r.r.p50.Round(10*time.Microsecond), r.r.p99.Round(10*time.Microsecond))
		if r.h.errors > 0 || r.r.errors > 0 {
			b.Errorf("%s at %d clients: %d hoard and %d bare requests failed", r.what, r.clients, r.h.errors, r.r.errors)
		}
		if r.clients == 16 {
			tag := "get"
			if r.what != "GET /instances/{id}" {
				tag = "list"
			}
			b.ReportMetric(r.h.rps/r.r.rps, tag+"16-rps/bare")
			b.ReportMetric(float64(r.h.p99.Microseconds())/1000, tag+"16-p99-ms")
		}
	}
}

func fetch(b *testing.B, url, token string) []byte {
	b.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-Auth-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("GET %s = %d %s (%v)", url, resp.StatusCode, body, err)
	}
	return body
}

type loadResult struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
}

// loadDuration is how long each load point runs.
const loadDuration = 2 * time.Second

// load runs clients goroutines, each sending requests back to back over a
// kept-alive connection for loadDuration, and reports the throughput and
// latency percentiles.
func load(clients int, url func(*rand.Rand) string, token string) loadResult {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var (
		mu     sync.Mutex
		lats   []time.Duration
		errors int
		wg     sync.WaitGroup
	)
	deadline := time.Now().Add(loadDuration)
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 7))
			var mine []time.Duration
			bad := 0
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest(http.MethodGet, url(r), nil)
				if token != "" {
					req.Header.Set("X-Auth-Token", token)
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					bad++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					bad++
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			errors += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lats)
	if len(lats) == 0 {
		return loadResult{errors: errors}
	}
	return loadResult{
		rps:    float64(len(lats)) / elapsed.Seconds(),
		p50:    lats[len(lats)/2],
		p99:    lats[len(lats)*99/100],
		errors: errors,
	}
}
