package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/deltalog/deltalog/internal/bench/gen"
	"github.com/deltalog/deltalog/web"
)

// The API load case (group "api"): the read side served in process over
// loopback, attacked open-loop at constant rates.
var (
	// APIRates are the request rates of the load case, per second.
	APIRates = []int{500, 1000, 2000, 5000}
	// APIStep is how long each rate is held.
	APIStep = 5 * time.Second
	// apiUpdateRate is the change rate of the update that runs under load.
	apiUpdateRate = 0.01
)

// APIRun is one (endpoint, rate, condition) step of the load case.
// Latencies are measured from each request's intended send time (the
// pacer's schedule), not from when it was sent: a server that falls
// behind cannot hide its queue (no coordinated omission). Percentiles are
// exact, over every request of the step.
type APIRun struct {
	Endpoint string `json:"endpoint"`
	Rate     int    `json:"rate"`
	Updating bool   `json:"updating"`
	Requests int    `json:"requests"`
	Errors   int    `json:"errors"`
	// Failures counts the failed requests by cause: the transport's error,
	// or the status and the first line of the body.
	Failures map[string]int `json:"failures,omitempty"`
	Achieved float64        `json:"achieved_rate"`
	P50      float64        `json:"p50_ms"`
	P99      float64        `json:"p99_ms"`
	Max      float64        `json:"max_ms"`
	// HeapMiB is the process's in-use heap after the step: the server
	// (and the load generator) must stay flat across steps.
	HeapMiB float64 `json:"heap_mib"`
}

// api runs the load case on the loaded catalog: every endpoint at every
// rate, idle and while an update with projections runs.
// snaps0 is the loaded generation 0, which the update under load
// alternates with generation 1.
func (h *harness) api(ctx context.Context, names []string, snaps0 []snapshot) error {
	reader, err := web.OpenReadOnly(ctx, h.pool.Config())
	if err != nil {
		return err
	}
	defer reader.Close()
	handler, err := web.New(web.Config{DB: reader, Logger: h.cfg.Logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	gc := h.cfg.Gen
	gc.Rate = apiUpdateRate
	g1, err := gen.New(gc)
	if err != nil {
		return err
	}
	h.progress("api: generating generation 1 at rate %v for the update under load", apiUpdateRate)
	files1, _, err := g1.WriteFiles(ctx, 1, filepath.Join(h.dir, "api-gen1"))
	if err != nil {
		return err
	}
	gens := [2][]snapshot{snapshots(names, files1), snaps0}

	projects, err := h.sampleProjects(ctx, 20000, gens)
	if err != nil {
		return err
	}
	lookups, lists := make([]string, len(projects)), make([]string, len(projects))
	for i, p := range projects {
		lookups[i] = base + "/api/v1/project/" + url.PathEscape(p)
		lists[i] = base + "/api/v1/projects?limit=50&after=" + url.QueryEscape(p)
	}
	endpoints := []struct {
		name string
		urls []string
	}{{"project lookup", lookups}, {"project list page", lists}}

	for _, updating := range []bool{false, true} {
		stop := func() error { return nil }
		if updating {
			stop = h.updateLoop(ctx, gens)
		}
		for _, ep := range endpoints {
			for _, rate := range APIRates {
				run := attack(ctx, ep.urls, rate, APIStep)
				run.Endpoint, run.Updating = ep.name, updating
				h.rep.API = append(h.rep.API, run)
				h.progress("api: %s at %d/s%s: p50 %.2fms p99 %.2fms max %.1fms, %d/%d errors, %.0f/s achieved",
					ep.name, rate, map[bool]string{true: " during an update"}[updating],
					run.P50, run.P99, run.Max, run.Errors, run.Requests, run.Achieved)
				for _, cause := range slices.Sorted(maps.Keys(run.Failures)) {
					h.progress("api:   %d× %s", run.Failures[cause], cause)
				}
			}
		}
		if err := stop(); err != nil {
			return fmt.Errorf("api: the update under load: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// Stopping may cut an update between its commit and its
		// projections: catch them up, for the audit that follows.
		if err := h.runner.Run(ctx, false); err != nil {
			return fmt.Errorf("api: projections after the update under load: %w", err)
		}
	}
	return nil
}

// updateLoop applies the generations in turn, each with its projections,
// until stopped; stop returns the first error.
func (h *harness) updateLoop(ctx context.Context, gens [2][]snapshot) (stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			if _, err := h.update(ctx, gens[i%2]); err != nil {
				if ctx.Err() != nil {
					err = nil
				}
				done <- err
				return
			}
			h.progress("api: update %d under load done", i+1)
		}
	}()
	return func() error {
		cancel()
		return <-done
	}
}

// sampleProjects returns up to n project names spread over the catalog,
// of projects present in both states the update under load alternates
// between (gens[0] is applied, then gens[1], which was the state before):
// a lookup that is not answered is then a failure, never a project that
// an update removed for a while.
func (h *harness) sampleProjects(ctx context.Context, n int, gens [2][]snapshot) ([]string, error) {
	rows, err := h.pool.Query(ctx, query("api-sample"), n)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	if _, err := h.update(ctx, gens[0]); err != nil {
		return nil, err
	}
	if rows, err = h.pool.Query(ctx, query("api-present"), names); err != nil {
		return nil, err
	}
	if names, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, err
	}
	if _, err := h.update(ctx, gens[1]); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, errors.New("api: the catalog has no projects")
	}
	return names, nil
}

// attack sends GETs of urls (in turn) at rate per second for d (or until
// ctx ends) and measures each from its intended send time.
func attack(ctx context.Context, urls []string, rate int, d time.Duration) APIRun {
	var next atomic.Uint64
	targeter := func(t *vegeta.Target) error {
		t.Method = http.MethodGet
		t.URL = urls[next.Add(1)%uint64(len(urls))]
		return nil
	}
	a := vegeta.NewAttacker(vegeta.Timeout(10*time.Second), vegeta.Workers(32), vegeta.MaxWorkers(512),
		vegeta.KeepAlive(true), vegeta.MaxBody(1<<20))
	stopped := context.AfterFunc(ctx, func() { a.Stop() })
	defer stopped()
	period := time.Second / time.Duration(rate)
	type sample struct {
		seq  uint64
		sent time.Time
		done time.Time
	}
	var samples []sample
	run := APIRun{Rate: rate}
	for res := range a.Attack(targeter, vegeta.ConstantPacer{Freq: rate, Per: time.Second}, d, "api") {
		samples = append(samples, sample{res.Seq, res.Timestamp, res.Timestamp.Add(res.Latency)})
		if cause := failure(res); cause != "" {
			if run.Failures == nil {
				run.Failures = map[string]int{}
			}
			run.Failures[cause]++
			run.Errors++
		}
	}
	run.Requests = len(samples)
	if len(samples) == 0 {
		return run
	}
	// The schedule's origin: the pacer meant to send request Seq at
	// began + Seq·period, and sends none early.
	began, lastDone := samples[0].sent, samples[0].done
	for _, s := range samples {
		began = minTime(began, s.sent.Add(-time.Duration(s.seq)*period))
		if s.done.After(lastDone) {
			lastDone = s.done
		}
	}
	lat := make([]float64, len(samples))
	for i, s := range samples {
		lat[i] = float64(s.done.Sub(began.Add(time.Duration(s.seq)*period))) / float64(time.Millisecond)
	}
	slices.Sort(lat)
	run.P50, run.P99, run.Max = quantile(lat, 0.50), quantile(lat, 0.99), lat[len(lat)-1]
	run.Achieved = float64(len(lat)) / lastDone.Sub(began).Seconds()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	run.HeapMiB = float64(ms.HeapInuse) / (1 << 20)
	return run
}

// failure is why a request failed ("" if it did not).
func failure(res *vegeta.Result) string {
	switch {
	case res.Error != "":
		return res.Error
	case res.Code != http.StatusOK:
		body, _, _ := strings.Cut(strings.TrimSpace(string(res.Body)), "\n")
		return fmt.Sprintf("%d %s", res.Code, body[:min(len(body), 200)])
	}
	return ""
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// quantile of sorted values, nearest rank.
func quantile(sorted []float64, q float64) float64 {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// writeAPI prints the load case's table.
func writeAPI(w io.Writer, runs []APIRun) error {
	if len(runs) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nAPI load (open loop, latency from the intended send time, %s per step)\n\n", APIStep)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\tcondition\trate/s\tachieved/s\trequests\terrors\tp50 ms\tp99 ms\tmax ms\theap MiB\t")
	for _, r := range runs {
		cond := "idle"
		if r.Updating {
			cond = "during update"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%d\t%d\t%.2f\t%.2f\t%.1f\t%.1f\t\n",
			r.Endpoint, cond, r.Rate, r.Achieved, r.Requests, r.Errors, r.P50, r.P99, r.Max, r.HeapMiB)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range runs {
		for _, cause := range slices.Sorted(maps.Keys(r.Failures)) {
			fmt.Fprintf(w, "  %s at %d/s: %d× %s\n", r.Endpoint, r.Rate, r.Failures[cause], cause)
		}
	}
	return nil
}
