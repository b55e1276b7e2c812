package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/pg/database"
	dlsql "github.com/deltalog/deltalog/sql"
)

// ProjectionStatus is one projection's progress, as the projection runner
// reports it.
type ProjectionStatus struct {
	Name string `json:"name"`
	// Checkpoint is the last seq the projection applied.
	Checkpoint int64 `json:"checkpoint"`
	// LastApplySeconds is how long its last apply took (0: unknown).
	LastApplySeconds float64 `json:"last_apply_seconds,omitempty"`
	// State is the runner's word for it: "caught_up", "running",
	// "stalled" (the watchdog: a worker holds it but it does not advance),
	// "stopped" or "failed".
	State string `json:"state,omitempty"`
}

// ServerConfig configures the HTTP API.
type ServerConfig struct {
	// DB is the database to serve (required).
	DB *pgxpool.Pool
	// StatusDB, when set, is the pool /status and /metrics read: a small
	// one of their own, so that they answer while slow requests hold
	// every connection of DB (default: DB).
	StatusDB *pgxpool.Pool
	// RequestTimeout bounds a request other than a stream, queries
	// included (default 30s): past it the request fails with 503 and its
	// connection goes back to the pool.
	RequestTimeout time.Duration
	// DefaultLimit and MaxLimit bound GET /changelog pages (defaults 1000
	// and changelog.MaxPage); a larger limit is refused with 400.
	DefaultLimit int
	MaxLimit     int
	// MaxStreams bounds concurrent GET /changelog/stream connections
	// (default 64); more are refused with 503.
	MaxStreams int
	// StreamPageSize is the number of events a stream reads at once
	// (default 1000).
	StreamPageSize int
	// WriteTimeout bounds one write to a stream: a client that does not
	// read for that long is disconnected, so it cannot hold a stream slot
	// (default 30s).
	WriteTimeout time.Duration
	// KeepAlive is the interval of SSE comments on an idle stream
	// (default 15s).
	KeepAlive time.Duration
	// CacheEvents bounds the page cache, in events (default 100000; a
	// negative value disables it).
	CacheEvents int
	// ProjectionStatusFunc, when set, reports the projections for /status
	// and /metrics.
	ProjectionStatusFunc func(ctx context.Context) ([]ProjectionStatus, error)
	Logger               *slog.Logger
}

func (c ServerConfig) withDefaults() ServerConfig {
	if c.DefaultLimit <= 0 {
		c.DefaultLimit = 1000
	}
	if c.MaxLimit <= 0 {
		c.MaxLimit = changelog.MaxPage
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = 64
	}
	if c.StreamPageSize <= 0 {
		c.StreamPageSize = 1000
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.StatusDB == nil {
		c.StatusDB = c.DB
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = 15 * time.Second
	}
	if c.CacheEvents == 0 {
		c.CacheEvents = 100_000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c ServerConfig) validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("replay: ServerConfig.DB is required"))
	}
	if c.MaxLimit > changelog.MaxPage {
		errs = append(errs, fmt.Errorf("replay: ServerConfig.MaxLimit %d over changelog.MaxPage (%d)", c.MaxLimit, changelog.MaxPage))
	}
	if c.DefaultLimit > c.MaxLimit {
		errs = append(errs, fmt.Errorf("replay: ServerConfig.DefaultLimit %d over MaxLimit %d", c.DefaultLimit, c.MaxLimit))
	}
	return errors.Join(errs...)
}

// Server is deltalog's read-only HTTP API.
type Server struct {
	cfg     ServerConfig
	watcher *changelog.Watcher
	cache   *pageCache
	streams chan struct{}
	open    streamSet
	mux     *http.ServeMux
	m       serverMetrics
}

type serverMetrics struct {
	reg                  *prometheus.Registry
	hits, misses         prometheus.Counter
	streams              prometheus.Gauge
	rejected             prometheus.Counter
	streamed             prometheus.Counter
	requests             *prometheus.HistogramVec
	headDesc, projCkpt   *prometheus.Desc
	projLag, projApply   *prometheus.Desc
	projStalled, dbWait  *prometheus.Desc
	updateDur, updateEvs *prometheus.Desc
}

// NewServer starts watching the changelog head and returns the server.
// Close it to stop the watcher.
func NewServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w, err := changelog.NewWatcher(ctx, changelog.WatcherConfig{DB: cfg.DB, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, watcher: w, streams: make(chan struct{}, cfg.MaxStreams), mux: http.NewServeMux()}
	s.initMetrics()
	s.cache = newPageCache(cfg.CacheEvents, func(ctx context.Context, p changelog.PageParams) (*changelog.Page, error) {
		return changelog.ReadPage(ctx, cfg.DB, p)
	}, s.m.hits.Inc, s.m.misses.Inc)

	s.handle("GET /changelog", s.getChangelog, false)
	s.handle("GET /changelog/stream", s.getStream, true)
	s.handle("GET /batches/{id}", s.getBatch, false)
	s.handle("GET /status", s.getStatus, false)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{}))
	return s, nil
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Close stops the server's watcher; open streams end.
func (s *Server) Close() { s.watcher.Close() }

// handle serves pattern with h, bounded by RequestTimeout unless timeless
// (a stream lives as long as its client reads).
func (s *Server) handle(pattern string, h func(http.ResponseWriter, *http.Request) error, timeless bool) {
	obs := s.m.requests.WithLabelValues(pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		client := r.Context()
		if !timeless {
			ctx, cancel := context.WithTimeoutCause(client, s.cfg.RequestTimeout, errRequestTimeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		if err := h(w, r); err != nil {
			var he *httpError
			switch {
			case errors.As(err, &he):
				http.Error(w, he.msg, he.code)
			case client.Err() == nil && context.Cause(r.Context()) == errRequestTimeout:
				http.Error(w, fmt.Sprintf("request took longer than %s", s.cfg.RequestTimeout), http.StatusServiceUnavailable)
			case r.Context().Err() != nil:
				// The client went away.
			case database.Unreachable(err):
				s.cfg.Logger.WarnContext(r.Context(), "waiting for the database", "who", "server", "path", r.URL.Path, "error", err)
				w.Header().Set("Retry-After", "1")
				http.Error(w, "waiting for the database", http.StatusServiceUnavailable)
			default:
				s.cfg.Logger.ErrorContext(r.Context(), "http request failed", "path", r.URL.Path, "error", err)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}
		obs.Observe(time.Since(start).Seconds())
	})
}

// errRequestTimeout is the cause of a request's context past
// RequestTimeout.
var errRequestTimeout = errors.New("request timeout")

type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// intParam parses a non-negative integer query parameter.
func intParam(r *http.Request, name string, def int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest("%s: want a non-negative integer, got %q", name, v)
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// getChangelog serves GET /changelog?after=SEQ&limit=N[&repo=R]: one page,
// keyset paged: the next page is ?after=<next>.
func (s *Server) getChangelog(w http.ResponseWriter, r *http.Request) error {
	after, err := intParam(r, "after", 0)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", int64(s.cfg.DefaultLimit))
	if err != nil {
		return err
	}
	if limit == 0 || limit > int64(s.cfg.MaxLimit) {
		return badRequest("limit: want 1..%d, got %d", s.cfg.MaxLimit, limit)
	}
	head, err := changelog.Head(r.Context(), s.cfg.DB)
	if err != nil {
		return err
	}
	page, err := s.cache.get(r.Context(), changelog.PageParams{After: after, Upto: head, Limit: int(limit), Repo: r.URL.Query().Get("repo")})
	if err != nil {
		return err
	}
	return writeJSON(w, page)
}

// getStream serves GET /changelog/stream: Server-Sent Events from after
// the Last-Event-ID header (or ?after=SEQ), following the head. ?repo=R
// filters; ?until=SEQ ends the stream once SEQ is sent.
func (s *Server) getStream(w http.ResponseWriter, r *http.Request) error {
	after, err := intParam(r, "after", 0)
	if err != nil {
		return err
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		if after, err = strconv.ParseInt(id, 10, 64); err != nil || after < 0 {
			return badRequest("Last-Event-ID: want a seq, got %q", id)
		}
	}
	until, err := intParam(r, "until", 0)
	if err != nil {
		return err
	}
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		s.m.rejected.Inc()
		w.Header().Set("Retry-After", "1")
		return &httpError{http.StatusServiceUnavailable, "too many streams"}
	}
	s.m.streams.Inc()
	defer s.m.streams.Dec()
	open := s.open.add(r, after, r.URL.Query().Get("repo"))
	defer s.open.remove(open)

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) error {
		if err := rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := write([]byte(": deltalog changelog\n\n")); err != nil {
		return nil
	}

	var (
		buf       []byte
		lastBatch int64
	)
	err = Stream(r.Context(), s.cfg.DB, StreamParams{
		After: after, Until: until, Repo: r.URL.Query().Get("repo"),
		Follow: true, Watcher: s.watcher, PageSize: s.cfg.StreamPageSize,
		ReadPageFunc:      s.cache.get,
		HeartbeatInterval: s.cfg.KeepAlive,
		HeartbeatFunc:     func(context.Context) error { return write([]byte(": keep-alive\n\n")) },
	}, func(page *changelog.Page) error {
		buf = buf[:0]
		for i := range page.Events {
			ev := &page.Events[i]
			if ev.Batch != lastBatch {
				b := page.Batch(ev.Batch)
				if b == nil {
					return fmt.Errorf("no record of batch %d", ev.Batch)
				}
				data, err := json.Marshal(b)
				if err != nil {
					return err
				}
				buf = appendSSE(buf, sseBatch, "", data)
				lastBatch = ev.Batch
			}
			data, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			buf = appendSSE(buf, sseEvent, seqID(ev.Seq), data)
		}
		if err := write(buf); err != nil {
			return &clientGone{err}
		}
		if n := len(page.Events); n > 0 {
			open.sent.Store(page.Events[n-1].Seq)
		}
		s.m.streamed.Add(float64(len(page.Events)))
		return nil
	})
	var gone *clientGone
	switch {
	case err == nil, r.Context().Err() != nil:
		return nil
	case errors.As(err, &gone):
		s.cfg.Logger.InfoContext(r.Context(), "stream client dropped", "error", gone.err)
		return nil
	}
	// Headers are sent: report in the stream and end it (a follower
	// reconnects from its last seq).
	if database.Unreachable(err) {
		s.cfg.Logger.WarnContext(r.Context(), "stream ended: waiting for the database", "error", err)
	} else {
		s.cfg.Logger.ErrorContext(r.Context(), "stream failed", "error", err)
	}
	_ = write([]byte("event: error\ndata: internal error\n\n"))
	return nil
}

type clientGone struct{ err error }

func (e *clientGone) Error() string { return "client gone: " + e.err.Error() }

// getBatch serves GET /batches/{id}.
func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return badRequest("batch id: want a positive integer, got %q", r.PathValue("id"))
	}
	b, err := changelog.ReadBatch(r.Context(), s.cfg.DB, id)
	if errors.Is(err, changelog.ErrNotFound) {
		return &httpError{http.StatusNotFound, err.Error()}
	}
	if err != nil {
		return err
	}
	return writeJSON(w, b)
}

// ServerStatus is the body of GET /status.
type ServerStatus struct {
	// Database is "ok", or "waiting" (with Error, and status 503 and
	// nothing else) while the server cannot reach its database.
	Database string `json:"database"`
	Error    string `json:"error,omitempty"`
	*changelog.Status
	Projections []ProjectionLag `json:"projections"`
	// Streams are the open changelog streams: followers and tail clients.
	Streams []StreamInfo `json:"streams"`
}

// ProjectionLag is a projection's status with its lag behind the head.
type ProjectionLag struct {
	ProjectionStatus
	Lag int64 `json:"lag"`
}

// getStatus serves GET /status: head, state checksums, repositories and
// projections, read in one snapshot.
func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var st *changelog.Status
	err := pgx.BeginTxFunc(ctx, s.cfg.StatusDB, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			var err error
			st, err = changelog.ReadStatus(ctx, tx)
			return err
		})
	if database.Unreachable(err) && ctx.Err() == nil {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		return json.NewEncoder(w).Encode(ServerStatus{Database: "waiting", Error: err.Error()})
	}
	if err != nil {
		return err
	}
	out := ServerStatus{Database: "ok", Status: st, Projections: []ProjectionLag{}, Streams: s.Streams()}
	if s.cfg.ProjectionStatusFunc != nil {
		ps, err := s.cfg.ProjectionStatusFunc(ctx)
		if err != nil {
			return fmt.Errorf("projection status: %w", err)
		}
		for _, p := range ps {
			out.Projections = append(out.Projections, ProjectionLag{ProjectionStatus: p, Lag: max(0, st.HeadSeq-p.Checkpoint)})
		}
	}
	return writeJSON(w, out)
}

func (s *Server) initMetrics() {
	m := &s.m
	m.reg = prometheus.NewRegistry()
	m.hits = prometheus.NewCounter(prometheus.CounterOpts{Name: "deltalog_page_cache_hits_total",
		Help: "Changelog pages served from the page cache."})
	m.misses = prometheus.NewCounter(prometheus.CounterOpts{Name: "deltalog_page_cache_misses_total",
		Help: "Changelog pages read from the database."})
	m.streams = prometheus.NewGauge(prometheus.GaugeOpts{Name: "deltalog_streams_active",
		Help: "Open GET /changelog/stream connections."})
	m.rejected = prometheus.NewCounter(prometheus.CounterOpts{Name: "deltalog_streams_rejected_total",
		Help: "Streams refused because MaxStreams were open."})
	m.streamed = prometheus.NewCounter(prometheus.CounterOpts{Name: "deltalog_stream_events_total",
		Help: "Events sent on SSE streams."})
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "deltalog_http_request_duration_seconds",
		Help: "HTTP request durations (streams: their whole life).", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)},
		[]string{"route"})
	m.headDesc = prometheus.NewDesc("deltalog_changelog_head_seq", "Seq of the last committed changelog event.", nil, nil)
	m.projCkpt = prometheus.NewDesc("deltalog_projection_checkpoint_seq", "Last seq a projection applied.", []string{"projection"}, nil)
	m.projLag = prometheus.NewDesc("deltalog_projection_lag_events", "Events between the head and a projection's checkpoint.", []string{"projection"}, nil)
	m.projApply = prometheus.NewDesc("deltalog_projection_apply_duration_seconds", "Duration of a projection's last apply.", []string{"projection"}, nil)
	m.projStalled = prometheus.NewDesc("deltalog_projection_stalled",
		"1 when a worker holds the projection but it has not advanced while events waited (the watchdog).", []string{"projection"}, nil)
	m.dbWait = prometheus.NewDesc("deltalog_database_waiting", "1 while the server cannot reach its database.", nil, nil)
	m.updateDur = prometheus.NewDesc("deltalog_update_duration_seconds", "Duration of a repository's last update (batch started to finished).", []string{"repo"}, nil)
	m.updateEvs = prometheus.NewDesc("deltalog_update_events", "Events of a repository's last update.", []string{"repo"}, nil)
	m.reg.MustRegister(m.hits, m.misses, m.streams, m.rejected, m.streamed, m.requests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		dbCollector{s})
}

// dbCollector reads the database-backed metrics at scrape time, so they
// are never stale: the head, projections and last updates.
type dbCollector struct{ s *Server }

func (c dbCollector) Describe(ch chan<- *prometheus.Desc) {
	m := &c.s.m
	for _, d := range []*prometheus.Desc{m.headDesc, m.projCkpt, m.projLag, m.projApply, m.projStalled, m.dbWait, m.updateDur, m.updateEvs} {
		ch <- d
	}
}

func (c dbCollector) Collect(ch chan<- prometheus.Metric) {
	m := &c.s.m
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db := c.s.cfg.StatusDB
	head, err := changelog.Head(ctx, db)
	if database.Unreachable(err) {
		// Scraped all the same: the outage is what the scrape must show.
		ch <- prometheus.MustNewConstMetric(m.dbWait, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(m.dbWait, prometheus.GaugeValue, 0)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.headDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(m.headDesc, prometheus.GaugeValue, float64(head))
	if f := c.s.cfg.ProjectionStatusFunc; f != nil {
		ps, err := f(ctx)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(m.projCkpt, err)
		}
		for _, p := range ps {
			ch <- prometheus.MustNewConstMetric(m.projCkpt, prometheus.GaugeValue, float64(p.Checkpoint), p.Name)
			ch <- prometheus.MustNewConstMetric(m.projLag, prometheus.GaugeValue, float64(max(0, head-p.Checkpoint)), p.Name)
			stalled := 0.0
			if p.State == "stalled" {
				stalled = 1
			}
			ch <- prometheus.MustNewConstMetric(m.projStalled, prometheus.GaugeValue, stalled, p.Name)
			if p.LastApplySeconds > 0 {
				ch <- prometheus.MustNewConstMetric(m.projApply, prometheus.GaugeValue, p.LastApplySeconds, p.Name)
			}
		}
	}
	rows, err := db.Query(ctx, dlsql.Query("replay-last-batches"))
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.updateDur, err)
		return
	}
	var (
		repo string
		secs float64
		n    int64
	)
	_, err = pgx.ForEachRow(rows, []any{&repo, &secs, &n}, func() error {
		ch <- prometheus.MustNewConstMetric(m.updateDur, prometheus.GaugeValue, secs, repo)
		ch <- prometheus.MustNewConstMetric(m.updateEvs, prometheus.GaugeValue, float64(n), repo)
		return nil
	})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.updateDur, err)
	}
}
