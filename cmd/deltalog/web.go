package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/replay"
	"github.com/deltalog/deltalog/web"
)

// replayPaths are the routes package replay serves; everything else is
// the read side's.
var replayPaths = []string{"/changelog", "/changelog/", "/batches/", "/status", "/metrics"}

// statusConns is the size of the pool /status and /metrics read through.
const statusConns = 2

// openStatusPool opens a small pool like pool's for /status and /metrics,
// so that they answer while slow requests hold every connection of the
// main pool: an operator's view must not queue behind the load it is
// meant to show.
func openStatusPool(ctx context.Context, pool *pgxpool.Pool) (*pgxpool.Pool, error) {
	cfg := pool.Config().Copy()
	cfg.MaxConns = statusConns
	cfg.MinConns = 0
	return pgxpool.NewWithConfig(ctx, cfg)
}

// withReadSide mounts the read side (package web: API, feeds, dashboard)
// beside the replication API, on a pool of its own of readConns
// connections (web.DefaultReadConns when 0) that runs as the read-only
// role. The returned func closes that pool.
func withReadSide(ctx context.Context, pool *pgxpool.Pool, srv *replay.Server, requestTimeout time.Duration,
	readConns int32, logger *slog.Logger) (http.Handler, func(), error) {
	reader, err := web.OpenReadOnly(ctx, pool.Config(), readConns)
	if err != nil {
		return nil, nil, err
	}
	rs, err := web.New(web.Config{DB: reader, RequestTimeout: requestTimeout, Logger: logger, Streams: srv.Streams})
	if err != nil {
		reader.Close()
		return nil, nil, err
	}
	mux := http.NewServeMux()
	for _, p := range replayPaths {
		mux.Handle(p, srv.Handler())
	}
	mux.Handle("/", rs)
	return mux, reader.Close, nil
}
