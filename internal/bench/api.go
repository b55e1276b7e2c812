package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/deltalog/deltalog/internal/bench/gen"
)

// The API load case (group "api"): the read side served by `deltalog
// serve` in a process of its own, attacked open-loop at constant rates from
// this process, while `deltalog update` and `deltalog project` run as
// processes of their own too — as a user runs them. In one process, the
// updates' parsing, allocation and GC assists would stall the server's
// goroutines and the load generator's, which no deployment does.
var (
	// APIRates are the request rates of the load case, per second
	// (Config.APIRates overrides them).
	APIRates = []int{500, 1000, 2000, 5000}
	// APIStep is how long each rate is held (Config.APIStep overrides it).
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
	// StepSeconds is how long the rate was held.
	StepSeconds float64 `json:"step_seconds"`
	// ServerRSSMiB is the resident memory of the serve process after the
	// step: it must stay flat across steps.
	ServerRSSMiB float64 `json:"server_rss_mib"`
	// ServerHeapMiB is the server's heap in use after the step and GCs
	// the collections it ran during the step (from its /metrics).
	ServerHeapMiB float64 `json:"server_heap_mib"`
	GCs           int     `json:"server_gcs"`
	// ServerCPU, BackendCPU and LoadCPU are the CPU time one request
	// cost, in µs, in the serve process, in its PostgreSQL backends and in
	// the load generator (this process); UpdateCores is the CPU time of
	// the update and project processes that finished during the step, in
	// cores over it (their own CPU, not their backends'); MachineBusy the share of all the machine's
	// cores busy over the step, whoever used them. Unlike latencies, the
	// costs hardly move with what else runs on a shared machine.
	ServerCPU   float64 `json:"server_cpu_us_per_request"`
	BackendCPU  float64 `json:"backend_cpu_us_per_request"`
	LoadCPU     float64 `json:"load_cpu_us_per_request"`
	UpdateCores float64 `json:"update_cores"`
	MachineBusy float64 `json:"machine_busy"`
	// Updates counts the `deltalog update` processes that finished during
	// the step: a step "during update" that saw none measured nothing.
	Updates int `json:"updates,omitempty"`
}

// api runs the load case on the loaded catalog: every endpoint at every
// rate, idle and while updates with projections run.
// snaps0 is the loaded generation 0, which the updates under load
// alternate with generation 1.
func (h *harness) api(ctx context.Context, names []string, snaps0 []snapshot) error {
	srv, err := startServe(ctx, h.cfg.Exe, h.cfg.URL, h.cfg.APIServeArgs, h.progress)
	if err != nil {
		return err
	}
	defer srv.stop()

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
		lookups[i] = srv.base + "/api/v1/project/" + url.PathEscape(p)
		lists[i] = srv.base + "/api/v1/projects?limit=50&after=" + url.QueryEscape(p)
	}
	endpoints := []struct {
		name string
		urls []string
	}{{"project lookup", lookups}, {"project list page", lists}}

	var updates atomic.Int64
	for _, updating := range []bool{false, true} {
		stop := func() error { return nil }
		if updating {
			stop = h.updateLoop(ctx, gens, &updates)
		}
		for _, ep := range endpoints {
			for _, rate := range h.cfg.APIRates {
				run := h.step(ctx, srv, ep.urls, rate, &updates)
				run.Endpoint, run.Updating = ep.name, updating
				h.rep.API = append(h.rep.API, run)
				h.progress("api: %s at %d/s%s: p50 %.2fms p99 %.2fms max %.1fms, %d/%d errors, %.0f/s achieved, "+
					"server RSS %.0f MiB heap %.0f MiB %d GCs, CPU/request %.0fµs + %.0fµs in PostgreSQL (load %.0fµs), "+
					"%d updates on %.2f cores, machine %.0f%% busy",
					ep.name, rate, map[bool]string{true: " during updates"}[updating],
					run.P50, run.P99, run.Max, run.Errors, run.Requests, run.Achieved,
					run.ServerRSSMiB, run.ServerHeapMiB, run.GCs, run.ServerCPU, run.BackendCPU, run.LoadCPU,
					run.Updates, run.UpdateCores, 100*run.MachineBusy)
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
	}
	// Stopping may cut an update between its commit and its projections:
	// catch them up, for the audit that follows.
	if err := h.projectProcess(ctx); err != nil {
		return fmt.Errorf("api: projections after the update under load: %w", err)
	}
	// The processes created and dropped ids the in-process id caches may
	// hold: later cases start from fresh ones.
	return h.newWriters()
}

// step attacks urls at rate for one step and records, beside the
// latencies, what the server, the machine and the updates did meanwhile.
func (h *harness) step(ctx context.Context, srv *served, urls []string, rate int, updates *atomic.Int64) APIRun {
	upd0, m0 := updates.Load(), srv.metrics(ctx)
	cpu0, busy0, child0 := h.serverCPU(ctx, srv), machineTicks(), h.childCPU.Load()
	run := attack(ctx, urls, rate, h.cfg.APIStep)
	cpu1, busy1 := h.serverCPU(ctx, srv), machineTicks()
	run.Updates = int(updates.Load() - upd0)
	run.ServerCPU, run.LoadCPU, run.BackendCPU = cpu1.since(cpu0, run.Requests)
	run.UpdateCores = float64(h.childCPU.Load()-child0) / float64(h.cfg.APIStep)
	run.MachineBusy = busy1.since(busy0)
	m1 := srv.metrics(ctx)
	run.ServerRSSMiB = float64(processRSS(srv.cmd.Process.Pid)) / (1 << 20)
	run.ServerHeapMiB, run.GCs = m1[metricHeapInuse]/(1<<20), int(m1[metricGCs]-m0[metricGCs])
	return run
}

// updateLoop runs, until stopped, `deltalog update` for each repository of
// the generations in turn, then `deltalog project`, each a process of its
// own; updates counts the update processes that finished. stop returns the
// first error.
func (h *harness) updateLoop(ctx context.Context, gens [2][]snapshot, updates *atomic.Int64) (stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			start := time.Now()
			err := h.updateProcesses(ctx, gens[i%2], updates)
			if err == nil {
				err = h.projectProcess(ctx)
			}
			if err != nil {
				if ctx.Err() != nil {
					err = nil
				}
				done <- err
				return
			}
			h.progress("api: update %d under load done (%d repositories, %.1fs)", i+1, len(gens[i%2]), time.Since(start).Seconds())
		}
	}()
	return func() error {
		cancel()
		return <-done
	}
}

// updateProcesses applies each snapshot with `deltalog update`.
func (h *harness) updateProcesses(ctx context.Context, snaps []snapshot, updates *atomic.Int64) error {
	for _, s := range snaps {
		args := []string{"update", "--repo", s.repo, "--format", string(s.format), "--force", "--parse-cache", "off"}
		if s.scheme != "" {
			args = append(args, "--version-scheme", string(s.scheme))
		}
		if err := h.runProcess(ctx, append(args, s.files...)...); err != nil {
			return err
		}
		updates.Add(1)
	}
	return nil
}

// projectProcess catches the projections up with `deltalog project`.
func (h *harness) projectProcess(ctx context.Context) error {
	return h.runProcess(ctx, "project", "--page-size", strconv.Itoa(h.cfg.PageSize),
		"--cache-size", strconv.Itoa(h.cfg.CacheSize))
}

// runProcess runs the deltalog binary with args on the benchmark's
// database; a failure carries its stderr.
func (h *harness) runProcess(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, h.cfg.Exe, append(args, "--db", h.cfg.URL)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if st := cmd.ProcessState; st != nil {
		h.childCPU.Add(int64(st.UserTime() + st.SystemTime()))
	}
	if err != nil {
		return fmt.Errorf("deltalog %s: %w: %s", args[0], err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// served is a `deltalog serve` process.
type served struct {
	cmd  *exec.Cmd
	base string // http://host:port
	done chan struct{}
}

// startServe starts `deltalog serve` on a free loopback port and waits
// until it says where it listens; its later stderr lines go to progress.
// Its sessions carry the application_name serveApp, for serverCPU to find
// its backends.
func startServe(ctx context.Context, exe, dbURL string, extra []string, progress func(string, ...any)) (*served, error) {
	if u, err := url.Parse(dbURL); err == nil && u.Scheme != "" {
		q := u.Query()
		q.Set("application_name", serveApp)
		u.RawQuery = q.Encode()
		dbURL = u.String()
	}
	args := append([]string{"serve", "--db", dbURL, "--addr", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(exe, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("api: starting deltalog serve: %w", err)
	}
	s := &served{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	var early strings.Builder
	go func() {
		defer close(s.done)
		listening := false
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if a, ok := strings.CutPrefix(line, "deltalog: serving "); ok && !listening {
				listening = true
				addr <- a
				continue
			}
			if !listening && early.Len() < 4096 {
				early.WriteString(line + "\n")
			}
			progress("api: serve: %s", line)
		}
		_ = cmd.Wait()
	}()
	select {
	case s.base = <-addr:
		return s, nil
	case <-s.done:
		err = fmt.Errorf("api: deltalog serve exited: %s", strings.TrimSpace(early.String()))
	case <-time.After(30 * time.Second):
		err = errors.New("api: deltalog serve did not start listening in 30s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.stop()
	return nil, err
}

// stop ends the server (SIGTERM, then SIGKILL after 10 s) and waits for it.
func (s *served) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// The server's metrics the load case records.
const (
	metricHeapInuse = "go_memstats_heap_inuse_bytes"
	metricGCs       = "go_gc_duration_seconds_count"
)

// metrics reads the server's /metrics: the values of the unlabelled
// samples (nil if it cannot).
func (s *served) metrics(ctx context.Context) map[string]float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/metrics", nil)
	if err != nil {
		return nil
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			m[name] = v
		}
	}
	return m
}

// serveApp is the application_name of the serve process's sessions.
const serveApp = "deltalog-bench-serve"

// cpuSample is the CPU time used so far by the serve process and by each
// of its backends, in clock ticks.
type cpuSample struct {
	server   int64
	self     int64
	backends map[int]int64
}

// serverCPU samples the serve process and its backends (found by their
// application_name).
func (h *harness) serverCPU(ctx context.Context, s *served) cpuSample {
	c := cpuSample{server: processTicks(s.cmd.Process.Pid), self: processTicks(os.Getpid()), backends: map[int]int64{}}
	rows, err := h.pool.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", serveApp)
	if err != nil {
		return c
	}
	pids, _ := pgx.CollectRows(rows, pgx.RowTo[int32])
	for _, pid := range pids {
		c.backends[int(pid)] = processTicks(int(pid))
	}
	return c
}

// since is the CPU per request, in µs, used since c0 by the server, by
// this process and by the server's backends; a backend that connected in between used all its time
// since.
func (c cpuSample) since(c0 cpuSample, requests int) (server, self, backends float64) {
	var b int64
	for pid, t := range c.backends {
		b += t - c0.backends[pid]
	}
	perRequest := func(ticks int64) float64 {
		return float64(ticks) * 1e6 / clockTicks / float64(max(requests, 1))
	}
	return perRequest(c.server - c0.server), perRequest(c.self - c0.self), perRequest(b)
}

// clockTicks is the kernel's USER_HZ, the unit of /proc's CPU times
// (100 on every Linux platform Go supports).
const clockTicks = 100

// processTicks is the user + system CPU time of process pid in clock
// ticks (/proc/PID/stat), 0 if it cannot be read.
func processTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state is the first, utime and stime the 12th and 13th.
	_, rest, ok := bytes.Cut(b, []byte(") "))
	f := strings.Fields(string(rest))
	if !ok || len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// ticks is the machine's CPU time from /proc/stat: busy and total.
type ticks struct{ busy, total int64 }

func machineTicks() ticks {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return ticks{}
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	var t ticks
	for i, v := range f[min(1, len(f)):] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 8 {
			break // guest times are counted in user already
		}
		t.total += n
		if i != 3 && i != 4 { // idle, iowait
			t.busy += n
		}
	}
	return t
}

// since is the share of the machine's CPU time busy since t0.
func (t ticks) since(t0 ticks) float64 {
	if t.total == t0.total {
		return 0
	}
	return float64(t.busy-t0.busy) / float64(t.total-t0.total)
}

// processRSS is the resident set size of process pid in bytes (VmRSS), 0
// where /proc is not available.
func processRSS(pid int) int64 {
	return procStatusBytes(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
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
	// A transport of the step's own, closed after it: vegeta's would keep
	// its connections open for ever, and the server would hold every
	// earlier step's connections (goroutines, buffers) on top of this one's.
	tr := &http.Transport{MaxIdleConnsPerHost: vegeta.DefaultConnections}
	defer tr.CloseIdleConnections()
	a := vegeta.NewAttacker(vegeta.Client(&http.Client{Transport: tr}), vegeta.Timeout(10*time.Second),
		vegeta.Workers(32), vegeta.MaxWorkers(512), vegeta.KeepAlive(true), vegeta.MaxBody(1<<20))
	stopped := context.AfterFunc(ctx, func() { a.Stop() })
	defer stopped()
	period := time.Second / time.Duration(rate)
	type sample struct {
		seq  uint64
		sent time.Time
		done time.Time
	}
	var samples []sample
	run := APIRun{Rate: rate, StepSeconds: d.Seconds()}
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
	step := time.Duration(runs[0].StepSeconds * float64(time.Second))
	fmt.Fprintf(w, "\nAPI load (deltalog serve, update and project as processes of their own; open loop, latency from the intended send time, %s per step)\n\n", step)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\tcondition\trate/s\tachieved/s\trequests\terrors\tp50 ms\tp99 ms\tmax ms\tserver RSS MiB\theap MiB\tGCs\tµs/req serve\tµs/req PG\tµs/req load\tupdates\tupdate cores\tmachine busy\t")
	for _, r := range runs {
		cond := "idle"
		if r.Updating {
			cond = "during update"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%d\t%d\t%.2f\t%.2f\t%.1f\t%.1f\t%.1f\t%d\t%.0f\t%.0f\t%.0f\t%d\t%.2f\t%.0f%%\t\n",
			r.Endpoint, cond, r.Rate, r.Achieved, r.Requests, r.Errors, r.P50, r.P99, r.Max,
			r.ServerRSSMiB, r.ServerHeapMiB, r.GCs, r.ServerCPU, r.BackendCPU, r.LoadCPU, r.Updates, r.UpdateCores, 100*r.MachineBusy)
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
