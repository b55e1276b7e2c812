package changelog_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/bench/gen"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
)

// synthetic returns generation n of a one-repository synthetic catalog,
// hashed and grouped.
func synthetic(b *testing.B, packages, n int, rate float64) hashing.Grouped {
	b.Helper()
	g, err := gen.New(gen.Config{Seed: 1, Repos: 1, Packages: packages, Rate: rate})
	if err != nil {
		b.Fatal(err)
	}
	var pkgs []events.Package
	if _, err := g.Generate(context.Background(), n, func(_ int, p events.Package) error {
		pkgs = append(pkgs, p)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return hashing.Group(hashing.New(hashing.DefaultSeed), pkgs)
}

// preloaded returns an updater on a database holding snapshot s as
// repository "r", vacuumed and analyzed.
func preloaded(b *testing.B, s hashing.Grouped) *changelog.Updater {
	_, u := preloadedPool(b, s)
	return u
}

// preloadedPool is preloaded with the database's pool.
func preloadedPool(b *testing.B, s hashing.Grouped) (*pgxpool.Pool, *changelog.Updater) {
	b.Helper()
	pool := dbtest.New(b)
	u, err := changelog.NewUpdater(pool, changelog.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := u.Update(ctx, changelog.UpdateParams{Repo: "r", Seed: hashing.DefaultSeed, Snapshot: s}); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	return pool, u
}

// BenchmarkDiffNoChange is the diff of a no-change update of a 100k-package
// repository: the snapshot's state checksum against the stored one (the
// packagesets are not read), writing nothing. BenchmarkUpdateDelta1pct
// below reads and compares every stored checksum.
//
//	go test ./changelog -run '^$' -bench DiffNoChange
func BenchmarkDiffNoChange(b *testing.B) {
	s := synthetic(b, 100_000, 0, 0.01)
	u := preloaded(b, s)
	for b.Loop() {
		res, err := u.Update(context.Background(), changelog.UpdateParams{Repo: "r", Seed: hashing.DefaultSeed, Snapshot: s})
		if err != nil {
			b.Fatal(err)
		}
		if res.Batch != 0 {
			b.Fatal("a no-change update wrote a batch")
		}
	}
	b.ReportMetric(float64(len(s.Packagesets)), "packagesets/op")
}

// BenchmarkUpdateDelta1pct is an update of the same repository where 1% of
// the packagesets changed: diff, changelog append and current state in one
// transaction (runs alternate between the two generations).
func BenchmarkUpdateDelta1pct(b *testing.B) {
	s0, s1 := synthetic(b, 100_000, 0, 0.01), synthetic(b, 100_000, 1, 0.01)
	u := preloaded(b, s0)
	snaps := [2]hashing.Grouped{s1, s0}
	events := 0
	for i := 0; b.Loop(); i++ {
		res, err := u.Update(context.Background(), changelog.UpdateParams{Repo: "r", Seed: hashing.DefaultSeed, Snapshot: snaps[i%2]})
		if err != nil {
			b.Fatal(err)
		}
		events = res.Counts.Events
	}
	b.ReportMetric(float64(events), "events/op")
}

// BenchmarkDiffBuckets is an update of a 100k-package repository where
// 0.1 % of the packagesets changed: "buckets" reads the stored checksums of
// the buckets whose state differs only; "all" clears the repository's
// bucket states before each run, so that the diff reads every stored
// checksum as it did before buckets (and writes the states back). Runs
// alternate between the two generations.
//
//	go test ./changelog -run '^$' -bench DiffBuckets
func BenchmarkDiffBuckets(b *testing.B) {
	s0, s1 := synthetic(b, 100_000, 0, 0.001), synthetic(b, 100_000, 1, 0.001)
	pool, u := preloadedPool(b, s0)
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		clear bool
	}{{"buckets", false}, {"all", true}} {
		b.Run(c.name, func(b *testing.B) {
			snaps := [2]hashing.Grouped{s1, s0}
			events := 0
			for i := 0; b.Loop(); i++ {
				if c.clear {
					b.StopTimer()
					if _, err := pool.Exec(ctx, "UPDATE repos SET bucket_states = '{}'"); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				res, err := u.Update(ctx, changelog.UpdateParams{Repo: "r", Seed: hashing.DefaultSeed, Snapshot: snaps[i%2]})
				if err != nil {
					b.Fatal(err)
				}
				events = res.Counts.Events
			}
			b.ReportMetric(float64(events), "events/op")
		})
	}
}
