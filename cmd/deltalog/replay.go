package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/projections"
	"github.com/deltalog/deltalog/replay"
)

func newTailCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print changelog events as JSON lines",
		Long: `Print the changelog's events after --from as JSON lines, oldest first; with --follow, keep printing
new events as they are appended, until interrupted. Read-only: on a $DELTALOG_HOME with no
cluster it fails rather than create one.`,
		Example: `  deltalog tail --from 1200 --limit 10
  deltalog tail --follow --repo debian_12`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	from := fs.Int64("from", 0, "print events after this seq")
	limit := fs.Int64("limit", 0, "stop after N events (0: no limit)")
	follow := fs.Bool("follow", false, "keep printing new events as they are appended")
	repo := fs.String("repo", "", "only this repository's events")
	cmd.RunE = e.runE(func(ctx context.Context, _ []string) error {
		if *from < 0 || *limit < 0 {
			return usageError(errors.New("--from and --limit must not be negative"))
		}
		pool, err := e.openExisting(ctx)
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
	})
	return cmd
}

func newServeCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the changelog over HTTP (pages, an SSE stream, /status, /metrics)",
		Long: `Serve the changelog over HTTP: /changelog pages, the /changelog/stream server-sent events that
followers read, /status and /metrics. Listens on loopback by default.`,
		Example: `  deltalog serve --addr 127.0.0.1:8080
  deltalog follow --from http://127.0.0.1:8080 --db postgres:///follower`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	addr := fs.String("addr", "127.0.0.1:8080", "listen address (loopback by default)")
	maxStreams := fs.Int("max-streams", 64, "concurrent /changelog/stream connections")
	writeTimeout := fs.Duration("write-timeout", 30*time.Second, "drop a stream client that does not read for this long")
	requestTimeout := fs.Duration("request-timeout", 30*time.Second, "fail a request (other than a stream) that takes longer, with 503")
	readConns := fs.Int32("read-conns", 0, "connections of the read side's pool (default 2 per core + 2: more only contend for the cores)")
	cmd.RunE = e.runE(func(ctx context.Context, _ []string) error {
		if *readConns < 0 {
			return usageError(fmt.Errorf("--read-conns %d: must not be negative", *readConns))
		}
		e.longRunning = true
		pool, err := e.open(ctx)
		if err != nil {
			return err
		}
		defer pool.Close()
		statusPool, err := openStatusPool(ctx, pool)
		if err != nil {
			return err
		}
		defer statusPool.Close()
		srv, err := replay.NewServer(ctx, replay.ServerConfig{
			DB: pool, StatusDB: statusPool, MaxStreams: *maxStreams, WriteTimeout: *writeTimeout,
			RequestTimeout: *requestTimeout, Logger: e.logger(),
			ProjectionStatusFunc: func(ctx context.Context) ([]replay.ProjectionStatus, error) {
				sts, err := projections.ReadStatus(ctx, statusPool)
				if err != nil {
					return nil, err
				}
				out := make([]replay.ProjectionStatus, len(sts))
				for i, s := range sts {
					out[i] = replay.ProjectionStatus{Name: s.Name, Checkpoint: s.Checkpoint, State: s.State}
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
		handler, closeReadSide, err := withReadSide(ctx, pool, srv, *requestTimeout, *readConns, e.logger()) // web.go
		if err != nil {
			return err
		}
		defer closeReadSide()
		hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
			MaxHeaderBytes: 16 << 10, BaseContext: func(net.Listener) context.Context { return ctx }}
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
	})
	return cmd
}

func newReplicateCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replicate --to nats://HOST:PORT",
		Short: "Publish the changelog to a NATS JetStream stream",
		Long: `Publish the changelog's events, in seq order and exactly once each, to a NATS JetStream stream
(created if missing); followers read it with "deltalog follow --from nats://…".`,
		Example: `  deltalog replicate --to nats://127.0.0.1:4222
  deltalog replicate --to nats://127.0.0.1:4222 --stream CATALOG --until 5000`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	to := fs.String("to", "", "NATS server, nats://HOST:PORT (required)")
	stream := fs.String("stream", replay.DefaultStream, "JetStream stream name (created if missing)")
	until := fs.Int64("until", 0, "stop once this seq is published (0: follow the changelog)")
	cmd.RunE = e.runE(func(ctx context.Context, _ []string) error {
		if !strings.HasPrefix(*to, "nats://") || replay.CheckFeedURL(*to) != nil {
			return usageError(fmt.Errorf("replicate needs --to nats://HOST:PORT, got %q", *to))
		}
		e.longRunning = true
		pool, err := e.open(ctx)
		if err != nil {
			return err
		}
		defer pool.Close()
		r, err := replay.NewReplicator(replay.ReplicatorConfig{DB: pool, URL: *to, Stream: *stream, Until: *until, Logger: e.logger()})
		if err != nil {
			return usageError(err)
		}
		if err := r.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	})
	return cmd
}

func newFollowCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "follow --from http://HOST:PORT|nats://HOST:PORT --db FOLLOWER_URL",
		Short: "Apply a leader's changelog to a follower database",
		Long: `Apply a leader's changelog, read from its HTTP feed (deltalog serve) or a NATS stream (deltalog
replicate), to the follower's database, batch by batch, checking every state checksum. Exit
status 3 when the follower's state diverges from the leader's.`,
		Example: `  deltalog follow --from http://leader:8080 --db postgres:///follower --project
  deltalog follow --from nats://127.0.0.1:4222 --db postgres:///follower --until 5000`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	from := fs.String("from", "", "leader feed: http://HOST:PORT (deltalog serve) or nats://HOST:PORT (required)")
	stream := fs.String("stream", replay.DefaultStream, "JetStream stream name, for a nats:// feed")
	until := fs.Int64("until", 0, "stop once this seq is applied (0: keep following)")
	project := fs.Bool("project", false, "keep the projections of the follower's database current, batch by batch")
	var pf projectFlags
	pf.register(fs)
	cmd.RunE = e.runE(func(ctx context.Context, _ []string) error {
		if *from == "" {
			return usageError(errors.New("follow needs --from URL (and --db for the follower's database)"))
		}
		if err := replay.CheckFeedURL(*from); err != nil {
			return usageError(fmt.Errorf("--from %w", err))
		}
		if *project {
			if err := pf.check(); err != nil {
				return err
			}
		}
		e.longRunning = true
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
			return usageError(err)
		}
		err = f.Run(ctx)
		switch {
		case err == nil, errors.Is(err, context.Canceled):
			return nil
		case errors.Is(err, replay.ErrDiverged):
			return &exitError{exitDiverged, err}
		}
		return err
	})
	return cmd
}
