package changelog_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
)

// TestChunkedUpdateEqualsWhole: an update written a few packagesets at a
// time (Config.ChunkSets) appends the same events, writes the same current
// state and reports the same result as one written whole — through a
// sequence of random snapshots of two repositories (adds, changes,
// removals, a re-derivation under a new seed), with the snapshot's
// packages given whole or loaded on demand (UpdateParams.Load, as a
// spilled read does; the chunked writer drops them after each chunk), and
// with its rows inserted by COPY (Config.CopyAbove) or as statements.
func TestChunkedUpdateEqualsWhole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type side struct {
		name string
		u    *changelog.Updater
		q    changelog.Querier
		load bool
	}
	var sides []side
	for _, s := range []struct {
		name      string
		chunk     int
		load      bool
		copyAbove int
	}{{"whole", 0, false, 0}, {"chunks of 3", 3, false, 0}, {"chunks of 4, loaded", 4, true, 0},
		{"whole, every insert by COPY", 0, false, -1}} {
		pool := dbtest.New(t)
		u, err := changelog.NewUpdater(pool, changelog.Config{ChunkSets: s.chunk, CopyAbove: s.copyAbove})
		require.NoError(t, err)
		sides = append(sides, side{s.name, u, pool, s.load})
	}

	rng := rand.New(rand.NewPCG(7, 7))
	snapshot := func() []events.Package {
		var pkgs []events.Package
		for i := range 40 {
			if rng.IntN(4) == 0 {
				continue // absent from this snapshot: added or removed
			}
			project := fmt.Sprintf("p%02d", i)
			for j := range 1 + rng.IntN(2) {
				pkgs = append(pkgs, pkg(project, fmt.Sprintf("%s-%d", project, j), fmt.Sprint(1+rng.IntN(3))))
			}
		}
		return pkgs
	}
	for step := range 8 {
		seed := hashing.DefaultSeed
		if step == 6 {
			seed++ // every stored packageset re-derived
		}
		repo := []string{"r1", "r2"}[step%2]
		pkgs := snapshot()
		var results []*changelog.UpdateResult
		for _, s := range sides {
			g := hashing.Group(hashing.New(seed), pkgs)
			p := changelog.UpdateParams{Repo: repo, Seed: seed, Snapshot: g, Force: true}
			if s.load {
				full := slices.Clone(g.Packagesets)
				for i := range p.Snapshot.Packagesets {
					p.Snapshot.Packagesets[i].Packages = nil
				}
				p.Load = func(sets []*hashing.Packageset) error {
					for _, ps := range sets {
						i, ok := slices.BinarySearchFunc(full, ps.Project, func(f hashing.Packageset, project string) int {
							return strings.Compare(f.Project, project)
						})
						require.True(t, ok, ps.Project)
						ps.Packages = full[i].Packages
					}
					return nil
				}
			}
			res, err := s.u.Update(ctx, p)
			require.NoError(t, err, "%s, step %d", s.name, step)
			res.DiffTime, res.WriteTime = 0, 0
			results = append(results, res)
		}
		for i, s := range sides[1:] {
			require.Equal(t, results[0], results[i+1], "%s, step %d", s.name, step)
		}
		require.Positive(t, results[0].Counts.Events, "step %d changes something", step)
	}
	for _, s := range sides[1:] {
		require.Equal(t, readAll(t, sides[0].q), readAll(t, s.q), s.name)
		require.Equal(t, coreDigest(t, sides[0].q), coreDigest(t, s.q), s.name)
	}
}
