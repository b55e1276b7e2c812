package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/ingest"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
)

// debianSequence ingests the real Debian sequence (bookworm, trixie and
// their overlays, six repositories) into the current state only, and
// returns how many events the changelog holds.
func debianSequence(b *testing.B, f *fixture) int64 {
	b.Helper()
	ctx := context.Background()
	for _, s := range []struct{ repo, glob string }{
		{"debian_12", "debian/debian-bookworm-main-Sources-*.xz"},
		{"debian_12_updates", "debian/debian-bookworm-updates-main-Sources-*.xz"},
		{"debian_12_security", "debian/debian-bookworm-security-main-Sources-*.xz"},
		{"debian_13", "debian/debian-trixie-main-Sources-*.xz"},
		{"debian_13_updates", "debian/debian-trixie-updates-main-Sources-*.xz"},
		{"debian_13_security", "debian/debian-trixie-security-main-Sources-*.xz"},
	} {
		if _, err := ingest.Run(ctx, f.updater, ingest.Params{Repo: s.repo, Format: formats.DebianSources,
			Files: shared(b, s.glob), Force: true}); err != nil {
			b.Fatal(err)
		}
	}
	head, err := changelog.Head(ctx, f.pool)
	if err != nil {
		b.Fatal(err)
	}
	return head
}

// BenchmarkReplayDebian replays the changelog of the six Debian
// repositories into each projection (rebuild --from changelog, pages of
// 10000 events): the path followers and replays take. "catalog-from-state"
// rebuilds the catalog from the current state instead (its full
// definitions): the floor a replay of the catalog, which re-derives every
// pair it touches from the current state, is measured against.
//
//	go test ./projections -run '^$' -bench ReplayDebian -benchtime 1x
func BenchmarkReplayDebian(b *testing.B) {
	f := setupPaged(b, 10000)
	head := debianSequence(b, f)
	type rebuild struct{ name, projection, from string }
	cases := []rebuild{{"catalog-from-state", projections.CatalogName, projections.FromState}}
	for _, name := range projections.Names() {
		cases = append(cases, rebuild{name, name, projections.FromChangelog})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var took time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := projections.Rebuild(context.Background(), f.pool, projections.RebuildOpts{
					Projections: []string{c.projection}, From: c.from, PageSize: 10000, Logger: testLogger()}); err != nil {
					b.Fatal(err)
				}
				took += time.Since(start)
			}
			b.ReportMetric(float64(head)*float64(b.N)/took.Seconds(), "events/s")
		})
	}
}

// BenchmarkHistoryBulkPyPI pages the PyPI list's 886k "added" events (a
// fresh repository) through the history projection, in pages of 50000:
// set-based (runs of fresh pairs in one statement each) and folded event by
// event, from an empty history each time, one after the other in one run (compare
// the two: the machine is shared).
//
//	go test ./projections -run '^$' -bench HistoryBulkPyPI -benchtime 2x -timeout 30m
func BenchmarkHistoryBulkPyPI(b *testing.B) {
	files := shared(b, "registries/pypi.tsv.xz")
	ctx := context.Background()
	f := setupPaged(b, 50000, projections.History{})
	sum, err := ingest.Run(ctx, f.updater, ingest.Params{Repo: "pypi", Format: formats.TSV,
		VersionScheme: version.SchemePyPI, Files: files})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		h    projections.History
	}{{"set-based", projections.History{}}, {"fold", projections.HistoryBulkFrom(-1)}} {
		b.Run(c.name, func(b *testing.B) {
			r, err := projections.NewRunner(projections.Config{DB: f.pool, Projections: []projections.Projection{c.h},
				PageSize: 50000, MaxRetries: 1, RebuildLag: -1, Logger: testLogger()})
			if err != nil {
				b.Fatal(err)
			}
			var took time.Duration
			for b.Loop() {
				if _, err := f.pool.Exec(ctx, `TRUNCATE history_versions, project_history;
					UPDATE projection_checkpoints SET seq = 0 WHERE name = 'history'`); err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if err := r.Run(ctx, false); err != nil {
					b.Fatal(err)
				}
				took += time.Since(start)
			}
			b.ReportMetric(float64(sum.Events)*float64(b.N)/took.Seconds(), "events/s")
		})
	}
}
