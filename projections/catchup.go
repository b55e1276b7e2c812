package projections

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/changelog"
)

// CatchUp applies the pages the named projections have pending, up to the
// head as it is when each starts. It works beside a running worker (each
// page locks the checkpoint row first), with projections of its own.
func CatchUp(ctx context.Context, pool *pgxpool.Pool, names []string, pageSize int, logger *slog.Logger) error {
	all, err := Default(CatalogConfig{})
	if err != nil {
		return err
	}
	ps, err := Select(all, names)
	if err != nil {
		return err
	}
	r, err := NewRunner(Config{Pool: pool, Projections: ps, PageSize: pageSize, Logger: logger})
	if err != nil {
		return err
	}
	for _, p := range ps {
		head, err := changelog.Head(ctx, pool)
		if err != nil {
			return err
		}
		for {
			cp, err := checkpoint(ctx, pool, p.Name())
			if err != nil {
				return err
			}
			if cp >= head {
				break
			}
			if err := r.ApplyPage(ctx, p, min(head, cp+int64(r.cfg.PageSize))); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitCaughtUp waits until every named projection's checkpoint is at the
// head, or until max has passed.
func waitCaughtUp(ctx context.Context, pool *pgxpool.Pool, names []string, max time.Duration) {
	deadline := time.Now().Add(max)
	for {
		sts, err := ReadStatus(ctx, pool)
		if err != nil {
			return
		}
		behind := false
		for _, s := range sts {
			if slices.Contains(names, s.Name) && s.Lag > 0 && s.State != "failed" {
				behind = true
			}
		}
		if !behind || time.Now().After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
