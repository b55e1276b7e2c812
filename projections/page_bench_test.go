package projections_test

import (
	"context"
	"testing"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/bench/gen"
	"github.com/deltalog/deltalog/projections"
)

// syntheticRepos returns generation n of a synthetic catalog, hashed and
// grouped per repository.
func syntheticRepos(b *testing.B, cfg gen.Config, n int) ([]string, []hashing.Grouped) {
	b.Helper()
	g, err := gen.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	byRepo := make([][]events.Package, len(g.Repos()))
	if _, err := g.Generate(context.Background(), n, func(repo int, p events.Package) error {
		byRepo[repo] = append(byRepo[repo], p)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	out := make([]hashing.Grouped, len(byRepo))
	h := hashing.New(hashing.DefaultSeed)
	for i, pkgs := range byRepo {
		out[i] = hashing.Group(h, pkgs)
	}
	return g.Repos(), out
}

// BenchmarkApplyPage1pct applies the changelog pages of a 1% change of a
// synthetic catalog (20 repositories, 100k packages) to the catalog and
// history projections; the update that appends them is not timed.
//
//	go test ./projections -run '^$' -bench ApplyPage
func BenchmarkApplyPage1pct(b *testing.B) {
	cfg := gen.Config{Seed: 1, Repos: 20, Packages: 100_000, Rate: 0.01}
	names, gen0 := syntheticRepos(b, cfg, 0)
	_, gen1 := syntheticRepos(b, cfg, 1)
	counter := &projections.StatsSum{Only: projections.CatalogName}
	f := setupRunner(b, projections.Config{PageSize: 10000, MaxRetries: 1, RebuildLag: -1, PageFunc: counter.Add})
	ctx := context.Background()
	apply := func(snaps []hashing.Grouped) int {
		n := 0
		for i, s := range snaps {
			res, err := f.updater.Update(ctx, changelog.UpdateParams{Repo: names[i], Seed: hashing.DefaultSeed, Snapshot: s, Force: true})
			if err != nil {
				b.Fatal(err)
			}
			n += res.Counts.Events
		}
		return n
	}
	apply(gen0)
	if err := f.runner.Run(ctx, false); err != nil {
		b.Fatal(err)
	}
	if _, err := f.pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	counter.Take()
	events := 0
	var rederived, changed int64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		snaps := gen1
		if i%2 == 1 {
			snaps = gen0
		}
		events = apply(snaps)
		b.StartTimer()
		if err := f.runner.Run(ctx, false); err != nil {
			b.Fatal(err)
		}
		for _, t := range counter.Take() {
			rederived, changed = rederived+t.Rederived, changed+t.Changed
		}
	}
	b.ReportMetric(float64(events), "events/op")
	// The catalog's amplification: derived rows re-derived per row changed.
	b.ReportMetric(float64(rederived)/float64(max(changed, 1)), "rederived/changed")
}
