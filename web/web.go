package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/replay"
)

// ReaderRole is the role of migration 007 that may only read what this
// package serves.
const ReaderRole = "deltalog_reader"

// DefaultReadConns is the size of OpenReadOnly's pool unless told
// otherwise: two connections per core the process may run on, plus two.
// A lookup holds its connection for well under a millisecond, so a few
// connections per core keep every core busy, while more only add
// PostgreSQL backends that contend for the same cores (on 2 cores, 16 of
// them runnable at once beside an update's) and queue a request in the
// kernel's run queue instead of the pool's. Against a database server
// with more cores than this process, size it with the flag.
func DefaultReadConns() int32 {
	return int32(2*runtime.GOMAXPROCS(0) + 2)
}

// Config configures the read side.
type Config struct {
	// DB is the pool the read side queries (required); open it with
	// OpenReadOnly.
	DB *pgxpool.Pool
	// DefaultLimit and MaxLimit bound a page of /api/v1/projects and of
	// history (defaults 50 and 500); a larger limit is refused with 400.
	DefaultLimit int
	MaxLimit     int
	// MaxQueryLength bounds a request's raw query string and any single
	// name in its path, in bytes (default 1024): 414 beyond.
	MaxQueryLength int
	// MaxHeaderBytes bounds the request headers (default 8 KiB): 431
	// beyond. Set http.Server.MaxHeaderBytes too, which bounds what the
	// server reads before any handler runs.
	MaxHeaderBytes int
	// ReadTimeout and WriteTimeout bound reading a request and writing its
	// response (defaults 10s and 30s): a client that stops reading is
	// disconnected, not buffered for.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// RequestTimeout bounds the work of one request, queries included
	// (default 10s, the read-only pool's statement_timeout): past it the
	// request fails with 503 and its connection goes back to the pool.
	RequestTimeout time.Duration
	// FeedEntries is the number of entries in a feed (default 50).
	FeedEntries int
	// Streams, when set, lists the open changelog streams of the server
	// this read side is mounted beside (replay.Server.Streams): the
	// dashboard shows them as the followers it knows of.
	Streams func() []replay.StreamInfo
	// Logger receives request errors (default: discard).
	Logger *slog.Logger
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.DefaultLimit <= 0 {
		c.DefaultLimit = 50
	}
	if c.MaxLimit <= 0 {
		c.MaxLimit = 500
	}
	if c.MaxQueryLength <= 0 {
		c.MaxQueryLength = 1024
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 8 << 10
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.FeedEntries <= 0 {
		c.FeedEntries = 50
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("web: Config.DB is required"))
	}
	if c.DefaultLimit > c.MaxLimit {
		errs = append(errs, fmt.Errorf("web: Config.DefaultLimit %d over MaxLimit %d", c.DefaultLimit, c.MaxLimit))
	}
	return errors.Join(errs...)
}

// Server serves the read side. It holds no state beyond its
// configuration: every request reads the database.
type Server struct {
	cfg   Config
	store *store
	mux   *http.ServeMux
	pages map[string]*template.Template
}

// New returns the read side's handler.
func New(cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: &store{db: cfg.DB}, mux: http.NewServeMux(), pages: pages}
	s.routes()
	return s, nil
}

// ServeHTTP applies the request limits and deadlines, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	now := time.Now()
	// Errors mean the writer cannot take deadlines (a test recorder): the
	// server's own timeouts still apply then.
	_ = rc.SetReadDeadline(now.Add(s.cfg.ReadTimeout))
	_ = rc.SetWriteDeadline(now.Add(s.cfg.WriteTimeout))
	if len(r.URL.RawQuery) > s.cfg.MaxQueryLength || len(r.URL.EscapedPath()) > 2*s.cfg.MaxQueryLength {
		http.Error(w, "request URI too long", http.StatusRequestURITooLong)
		return
	}
	if headerBytes(r.Header) > s.cfg.MaxHeaderBytes {
		http.Error(w, "request headers too large", http.StatusRequestHeaderFieldsTooLarge)
		return
	}
	ctx, cancel := context.WithTimeoutCause(r.Context(), s.cfg.RequestTimeout, errRequestTimeout)
	defer cancel()
	s.mux.ServeHTTP(w, r.WithContext(ctx))
}

// errRequestTimeout is the cause of a request's context past
// RequestTimeout.
var errRequestTimeout = errors.New("request timeout")

func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /api/v1/project/{name}", s.polled(s.apiProject))
	s.mux.HandleFunc("GET /api/v1/project/{name}/history", s.polled(s.apiHistory))
	s.mux.HandleFunc("GET /api/v1/projects", s.polled(s.apiProjects))
	s.mux.HandleFunc("GET /api/v1/repository/{name}", s.polled(s.apiRepository))
	s.mux.HandleFunc("GET /api/v1/repository/{name}/problems", s.polled(s.apiRepositoryProblems))
	s.mux.HandleFunc("GET /api/v1/maintainer/{email}/problems", s.polled(s.apiMaintainerProblems))
	s.mux.HandleFunc("GET /api/v1/maintainer/{email}", s.polled(s.apiMaintainer))
	s.mux.HandleFunc("GET /api/v1/repository/{name}/freshness", s.polled(s.apiRepositoryFreshness))
	s.mux.HandleFunc("GET /api/v1/maintainer/{email}/freshness", s.polled(s.apiMaintainerFreshness))
	s.mux.HandleFunc("GET /api/v1/statistics", s.polled(s.apiStatistics))

	s.mux.HandleFunc("GET /feeds/project/{name}", s.polled(s.feedProject))
	s.mux.HandleFunc("GET /feeds/maintainer/{email}", s.polled(s.feedMaintainer))
	s.mux.HandleFunc("GET /feeds/repository/{name}", s.polled(s.feedRepository))

	s.mux.HandleFunc("GET /{$}", s.page(s.pageDashboard))
	s.mux.HandleFunc("GET /search", s.page(s.pageSearch))
	s.mux.HandleFunc("GET /project/{name}", s.page(s.pageProject))
	s.mux.HandleFunc("GET /maintainer/{email}", s.page(s.pageMaintainer))
	s.mux.HandleFunc("GET /repository/{name}", s.page(s.pageRepository))
	s.mux.Handle("GET /static/", http.FileServerFS(staticFS))
}

// OpenReadOnly opens a pool like cfg of conns connections (DefaultReadConns
// when conns ≤ 0) whose sessions run as ReaderRole and
// read only: the role is a startup parameter, so no query of this package
// runs with more than the role's privileges. The connecting user must be
// the role, a member of it or a superuser (migration 007 grants it to the
// role that migrates).
func OpenReadOnly(ctx context.Context, cfg *pgxpool.Config, conns int32) (*pgxpool.Pool, error) {
	cfg = cfg.Copy()
	if conns <= 0 {
		conns = DefaultReadConns()
	}
	cfg.MaxConns = conns
	rp := cfg.ConnConfig.RuntimeParams
	rp["role"] = ReaderRole
	rp["default_transaction_read_only"] = "on"
	if _, ok := rp["statement_timeout"]; !ok {
		rp["statement_timeout"] = "10s"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("web: opening the read-only pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("web: connecting as %s: %w", ReaderRole, err)
	}
	return pool, nil
}
