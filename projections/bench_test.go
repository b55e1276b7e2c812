package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
)

// BenchmarkPyPIDeltaVsFull is issue 3's measurement on the largest real
// repository here, the PyPI list (886k packages): applying a 1% change
// (every hundredth package gets a new version) — diff, changelog append,
// current state and every projection — against recomputing every derived
// table from scratch (Recompute: the audit's and rebuild's full path).
//
//	go test ./projections -run '^$' -bench PyPIDeltaVsFull -benchtime 3x -timeout 60m
func BenchmarkPyPIDeltaVsFull(b *testing.B) {
	files := shared(b, "registries/pypi.tsv.xz")
	ctx := context.Background()
	snap, err := formats.ReadSnapshot(ctx, formats.TSV, files)
	if err != nil {
		b.Fatal(err)
	}
	h := hashing.New(hashing.DefaultSeed)
	base := hashing.Group(h, snap.Packages)
	bumped := make([]events.Package, len(snap.Packages))
	copy(bumped, snap.Packages)
	for i := 0; i < len(bumped); i += 100 {
		bumped[i].Version += ".post9"
	}
	changed := hashing.Group(h, bumped)
	snap = nil

	f := setupPaged(b, 50000)
	apply := func(g hashing.Grouped) (*changelog.UpdateResult, time.Duration) {
		res, err := f.updater.Update(ctx, changelog.UpdateParams{Repo: "pypi", Seed: hashing.DefaultSeed,
			VersionScheme: version.SchemePyPI, Snapshot: g})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := f.runner.Run(ctx, false); err != nil {
			b.Fatal(err)
		}
		return res, time.Since(start)
	}
	apply(base)

	b.Run("delta-1pct", func(b *testing.B) {
		var diff, write, project time.Duration
		snapshots := [2]hashing.Grouped{changed, base} // alternate: each step is a 1% change
		i := 0
		for b.Loop() {
			res, p := apply(snapshots[i%2])
			i++
			diff, write, project = diff+res.DiffTime, write+res.WriteTime, project+p
		}
		n := float64(b.N)
		b.ReportMetric(diff.Seconds()/n, "diff-s/op")
		b.ReportMetric(write.Seconds()/n, "write-s/op")
		b.ReportMetric(project.Seconds()/n, "project-s/op")
	})
	b.Run("full-recompute", func(b *testing.B) {
		for b.Loop() {
			recompute(b, f.pool)
		}
	})
}

// recompute times what a user without deltalog's delta path would run:
// every derived table recomputed from the current state, in a snapshot
// that is rolled back.
func recompute(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	ctx := context.Background()
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only
	if err := projections.Recompute(ctx, tx); err != nil {
		b.Fatal(err)
	}
}
