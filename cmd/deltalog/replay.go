package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/projections"
	"github.com/deltalog/deltalog/replay"
)

func cmdTail(ctx context.Context, e *env, args []string) error {
	fs := e.flags("tail")
	from := fs.Int64("from", 0, "print events after this seq")
	limit := fs.Int64("limit", 0, "stop after N events (0: no limit)")
	follow := fs.Bool("follow", false, "keep printing new events as they are appended")
	repo := fs.String("repo", "", "only this repository's events")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *from < 0 || *limit < 0 {
		return &exitError{2, fmt.Errorf("--from and --limit must not be negative")}
	}
	pool, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	p := replay.StreamParams{After: *from, Limit: *limit, Repo: *repo, Follow: *follow}
	if *follow {
		w, err := changelog.NewWatcher(ctx, changelog.WatcherConfig{DB: pool, Logger: e.logger()})
		if err != nil {
			return err
		}
		defer w.Close()
		p.Watcher = w
	}
	out := bufio.NewWriterSize(e.stdout, 256<<10)
	err = replay.Tail(ctx, pool, out, p)
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if *follow && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func cmdServe(ctx context.Context, e *env, args []string) error {
	fs := e.flags("serve")
	addr := fs.String("addr", "127.0.0.1:8080", "listen address (loopback by default)")
	maxStreams := fs.Int("max-streams", 64, "concurrent /changelog/stream connections")
	writeTimeout := fs.Duration("write-timeout", 30*time.Second, "drop a stream client that does not read for this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	pool, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	srv, err := replay.NewServer(ctx, replay.ServerConfig{
		DB: pool, MaxStreams: *maxStreams, WriteTimeout: *writeTimeout, Logger: e.logger(),
		ProjectionStatusFunc: func(ctx context.Context) ([]replay.ProjectionStatus, error) {
			sts, err := projections.ReadStatus(ctx, pool)
			if err != nil {
				return nil, err
			}
			out := make([]replay.ProjectionStatus, len(sts))
			for i, s := range sts {
				out[i] = replay.ProjectionStatus{Name: s.Name, Checkpoint: s.Checkpoint}
			}
			return out, nil
		},
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	fmt.Fprintf(e.stderr, "deltalog: serving http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	srv.Close() // ends the streams, which Shutdown would wait for
	_ = hs.Shutdown(sctx)
	return nil
}

func cmdReplicate(ctx context.Context, e *env, args []string) error {
	fs := e.flags("replicate")
	to := fs.String("to", "", "NATS server, nats://HOST:PORT (required)")
	stream := fs.String("stream", replay.DefaultStream, "JetStream stream name (created if missing)")
	until := fs.Int64("until", 0, "stop once this seq is published (0: follow the changelog)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *to == "" {
		fs.Usage()
		return &exitError{2, fmt.Errorf("replicate needs --to nats://HOST:PORT")}
	}
	pool, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	r, err := replay.NewReplicator(replay.ReplicatorConfig{DB: pool, URL: *to, Stream: *stream, Until: *until, Logger: e.logger()})
	if err != nil {
		return &exitError{2, err}
	}
	if err := r.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func cmdFollow(ctx context.Context, e *env, args []string) error {
	fs := e.flags("follow")
	from := fs.String("from", "", "leader feed: http://HOST:PORT (deltalog serve) or nats://HOST:PORT (required)")
	stream := fs.String("stream", replay.DefaultStream, "JetStream stream name, for a nats:// feed")
	until := fs.Int64("until", 0, "stop once this seq is applied (0: keep following)")
	project := fs.Bool("project", false, "keep the projections of the follower's database current, batch by batch")
	var pf projectFlags
	pf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *from == "" {
		fs.Usage()
		return &exitError{2, fmt.Errorf("follow needs --from URL (and --db for the follower's database)")}
	}
	pool, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	cfg := replay.FollowerConfig{DB: pool, From: *from, Stream: *stream, Until: *until, Logger: e.logger()}
	if *project {
		r, err := pf.runner(e, pool)
		if err != nil {
			return err
		}
		cfg.AfterBatchFunc = func(ctx context.Context, _ int64) error { return r.Run(ctx, false) }
	}
	f, err := replay.NewFollower(cfg)
	if err != nil {
		return &exitError{2, err}
	}
	err = f.Run(ctx)
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return nil
	case errors.Is(err, replay.ErrDiverged):
		return &exitError{3, err}
	}
	return err
}
