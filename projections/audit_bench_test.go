package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/deltalog/deltalog/internal/ingest"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
)

// BenchmarkMillionAuditVsRebuild is issue 4's measurement: on a catalog of
// 1.11 million packages (the PyPI list, 886k, and the npm list, 227k, as two
// repositories), a full audit (the current state, the changelog, every
// derived table recomputed and compared) next to a full rebuild of every
// projection from the state and from the changelog, and the bare
// recomputation both build on.
//
//	go test ./projections -run '^$' -bench MillionAuditVsRebuild -benchtime 1x -timeout 120m
func BenchmarkMillionAuditVsRebuild(b *testing.B) {
	ctx := context.Background()
	f := setupPaged(b, 50000)
	start := time.Now()
	for _, s := range []struct {
		repo   string
		scheme version.Scheme
		file   string
	}{
		{"pypi", version.SchemePyPI, "registries/pypi.tsv.xz"},
		{"npm", version.SchemeSemver, "registries/npm.tsv.xz"},
	} {
		if _, err := ingest.Run(ctx, f.updater, ingest.Params{Repo: s.repo, Format: formats.TSV, VersionScheme: s.scheme,
			Files: shared(b, s.file)}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("ingested in %.1fs", time.Since(start).Seconds())
	start = time.Now()
	if err := f.runner.Run(ctx, false); err != nil {
		b.Fatal(err)
	}
	b.Logf("projected in %.1fs", time.Since(start).Seconds())
	var packages int64
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM packages`).Scan(&packages); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d packages", packages)

	b.Run("audit", func(b *testing.B) {
		var state, catalog, history float64
		for b.Loop() {
			rep, err := projections.Audit(ctx, f.pool, projections.AuditOpts{})
			if err != nil {
				b.Fatal(err)
			}
			if rep.Outcome != projections.OutcomeConsistent {
				b.Fatalf("audit: %s: %+v", rep.Outcome, rep.Failed())
			}
			state, catalog, history = state+rep.Timings["state"], catalog+rep.Timings["catalog"], history+rep.Timings["history"]
		}
		n := float64(b.N)
		b.ReportMetric(state/n, "state-s/op")
		b.ReportMetric(catalog/n, "catalog-s/op")
		b.ReportMetric(history/n, "history-s/op")
	})
	b.Run("recompute-only", func(b *testing.B) {
		for b.Loop() {
			recompute(b, f.pool)
		}
	})
	b.Run("audit-replay-history", func(b *testing.B) {
		for b.Loop() {
			rep, err := projections.Audit(ctx, f.pool, projections.AuditOpts{ReplayHistory: true, Projections: []string{projections.HistoryName}})
			if err != nil {
				b.Fatal(err)
			}
			if rep.Outcome != projections.OutcomeConsistent {
				b.Fatalf("audit: %s: %+v", rep.Outcome, rep.Failed())
			}
		}
	})
	for _, from := range []string{projections.FromState, projections.FromChangelog} {
		b.Run("rebuild-"+from, func(b *testing.B) {
			var swap float64
			for b.Loop() {
				res, err := projections.Rebuild(ctx, f.pool, projections.RebuildOpts{From: from, PageSize: 50000})
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range res {
					swap += r.SwapSeconds
				}
			}
			b.ReportMetric(swap/float64(b.N)*1000, "swap-ms/op")
		})
	}
}
