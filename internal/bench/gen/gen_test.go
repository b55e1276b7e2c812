package gen_test

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/bench/gen"
	"github.com/deltalog/deltalog/internal/input/formats"
)

func newGen(t *testing.T, cfg gen.Config) *gen.Generator {
	t.Helper()
	g, err := gen.New(cfg)
	require.NoError(t, err)
	return g
}

// digest writes generation n and returns a digest of every file's bytes.
func digest(t *testing.T, g *gen.Generator, n int) [32]byte {
	t.Helper()
	paths, _, err := g.WriteFiles(context.Background(), n, t.TempDir())
	require.NoError(t, err)
	h := sha256.New()
	for _, p := range paths {
		f, err := os.Open(p)
		require.NoError(t, err)
		io.WriteString(h, filepath.Base(p))
		_, err = io.Copy(h, f)
		f.Close()
		require.NoError(t, err)
	}
	return [32]byte(h.Sum(nil))
}

// TestDeterministic: the same configuration gives the same bytes, run
// after run; another seed gives others; generation 0 does not depend on
// the rate.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	cfg := gen.Config{Seed: 7, Repos: 40, Packages: 20000, Rate: 0.05}
	for _, n := range []int{0, 2} {
		require.Equal(t, digest(t, newGen(t, cfg), n), digest(t, newGen(t, cfg), n), "generation %d", n)
	}
	other := cfg
	other.Seed = 8
	require.NotEqual(t, digest(t, newGen(t, cfg), 0), digest(t, newGen(t, other), 0))
	rate := cfg
	rate.Rate = 0.2
	require.Equal(t, digest(t, newGen(t, cfg), 0), digest(t, newGen(t, rate), 0))
	require.NotEqual(t, digest(t, newGen(t, cfg), 1), digest(t, newGen(t, rate), 1))
}

// TestParsesBack: what WriteFiles writes is valid input of the JSONL
// format, and reads back as exactly the packages Generate streams.
func TestParsesBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newGen(t, gen.Config{Seed: 3, Repos: 12, Packages: 5000})
	want := make([][]events.Package, len(g.Repos()))
	st, err := g.Generate(ctx, 1, func(repo int, p events.Package) error {
		want[repo] = append(want[repo], p)
		return nil
	})
	require.NoError(t, err)
	paths, st2, err := g.WriteFiles(ctx, 1, t.TempDir())
	require.NoError(t, err)
	st2.Bytes = 0
	require.Equal(t, st, st2)
	total := 0
	for i, p := range paths {
		require.Equal(t, g.Repos()[i]+".jsonl", filepath.Base(p))
		snap, err := formats.ReadSnapshot(ctx, formats.JSONL, []string{p})
		require.NoError(t, err)
		require.Equal(t, want[i], snap.Packages, p)
		total += len(snap.Packages)
	}
	require.Equal(t, st.Packages, total)
	require.InDelta(t, 5000, total, 100)
}

// shape is generation 0 counted by project and maintainer.
type shape struct {
	reposPerProject    map[string]map[int]bool
	packagesPerMaint   map[string]int
	packagesPerRepo    []int
	packages, projects int
}

func measure(t *testing.T, g *gen.Generator) shape {
	t.Helper()
	s := shape{reposPerProject: map[string]map[int]bool{}, packagesPerMaint: map[string]int{},
		packagesPerRepo: make([]int, len(g.Repos()))}
	_, err := g.Generate(context.Background(), 0, func(repo int, p events.Package) error {
		if s.reposPerProject[p.Project] == nil {
			s.reposPerProject[p.Project] = map[int]bool{}
		}
		s.reposPerProject[p.Project][repo] = true
		for _, m := range p.Maintainers {
			s.packagesPerMaint[m.Email]++
		}
		s.packagesPerRepo[repo]++
		s.packages++
		return nil
	})
	require.NoError(t, err)
	s.projects = len(s.reposPerProject)
	return s
}

// TestHeavyTails: most projects are in one or two repositories and a few
// in hundreds; a few maintainers have most packages; repositories range
// from large to small.
func TestHeavyTails(t *testing.T) {
	t.Parallel()
	s := measure(t, newGen(t, gen.Config{Seed: 1, Repos: 300, Packages: 150000}))

	var k []int
	for _, repos := range s.reposPerProject {
		k = append(k, len(repos))
	}
	slices.Sort(k)
	inOneOrTwo := 0
	for _, n := range k {
		if n <= 2 {
			inOneOrTwo++
		}
	}
	t.Logf("%d projects: %.0f%% in 1-2 repositories, median %d, max %d", len(k),
		100*float64(inOneOrTwo)/float64(len(k)), k[len(k)/2], k[len(k)-1])
	require.Greater(t, float64(inOneOrTwo)/float64(len(k)), 0.8)
	require.GreaterOrEqual(t, k[len(k)-1], 100, "a few projects are in hundreds of repositories")
	require.Greater(t, k[len(k)-10], 50)

	var m []int
	for _, n := range s.packagesPerMaint {
		m = append(m, n)
	}
	slices.Sort(m)
	top := 0
	for _, n := range m[len(m)-len(m)/100:] {
		top += n
	}
	all := 0
	for _, n := range m {
		all += n
	}
	t.Logf("%d maintainers: median %d packages, max %d, top 1%% hold %.0f%%", len(m), m[len(m)/2], m[len(m)-1],
		100*float64(top)/float64(all))
	require.GreaterOrEqual(t, m[len(m)-1], 50*m[len(m)/2])
	require.Greater(t, float64(top)/float64(all), 0.1, "the top 1% of maintainers hold over 10% of the packages")

	largest, smallest := slices.Max(s.packagesPerRepo), slices.Min(s.packagesPerRepo)
	t.Logf("repositories: %d to %d packages", smallest, largest)
	require.Greater(t, largest, 10*smallest)
}

// packagesets hashes a generation into packageset checksums by (repo,
// project).
func packagesets(t *testing.T, g *gen.Generator, n int) map[[2]string]hashing.Sum {
	t.Helper()
	byRepo := make([][]events.Package, len(g.Repos()))
	_, err := g.Generate(context.Background(), n, func(repo int, p events.Package) error {
		byRepo[repo] = append(byRepo[repo], p)
		return nil
	})
	require.NoError(t, err)
	out := map[[2]string]hashing.Sum{}
	h := hashing.New(hashing.DefaultSeed)
	for i, pkgs := range byRepo {
		gr := hashing.Group(h, pkgs)
		require.Empty(t, gr.Duplicates)
		for _, ps := range gr.Packagesets {
			out[[2]string{g.Repos()[i], ps.Project}] = ps.Sum
		}
	}
	return out
}

// TestRate: generation g+1 differs from g by about the configured share of
// packagesets, with changes, additions and removals all present.
func TestRate(t *testing.T) {
	t.Parallel()
	for _, rate := range []float64{0.01, 0.1} {
		g := newGen(t, gen.Config{Seed: 5, Repos: 100, Packages: 80000, Rate: rate})
		for _, n := range []int{0, 2} {
			before, after := packagesets(t, g, n), packagesets(t, g, n+1)
			var changed, added, removed int
			for k, sum := range after {
				old, ok := before[k]
				switch {
				case !ok:
					added++
				case old != sum:
					changed++
				}
			}
			for k := range before {
				if _, ok := after[k]; !ok {
					removed++
				}
			}
			got := float64(changed+added+removed) / float64(len(before))
			t.Logf("rate %v, %d → %d: %d packagesets, %d changed, %d added, %d removed: %.3f",
				rate, n, n+1, len(before), changed, added, removed, got)
			require.InEpsilon(t, rate, got, 0.2)
			require.Positive(t, changed)
			require.Positive(t, added)
			require.Positive(t, removed)
		}
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	g := newGen(t, gen.Config{})
	cfg := g.Config()
	require.Equal(t, gen.DefaultRepos, cfg.Repos)
	require.Equal(t, gen.DefaultPackages, cfg.Packages)
	require.Equal(t, gen.DefaultRate, cfg.Rate)
	require.Len(t, g.Repos(), gen.DefaultRepos)
	require.Len(t, slices.Compact(slices.Sorted(slices.Values(g.Repos()))), gen.DefaultRepos, "names are unique")

	_, err := gen.New(gen.Config{Repos: -1, Packages: -5, Rate: 2})
	require.ErrorContains(t, err, "Repos")
	require.ErrorContains(t, err, "Packages")
	require.ErrorContains(t, err, "Rate")

	_, err = g.Generate(context.Background(), -1, func(int, events.Package) error { return nil })
	require.Error(t, err)
}

func BenchmarkGenerate(b *testing.B) {
	g, err := gen.New(gen.Config{Seed: 1, Packages: 100000})
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	for b.Loop() {
		_, err := g.Generate(context.Background(), 1, func(_ int, p events.Package) error {
			buf = gen.AppendJSON(buf[:0], &p)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(100000, "packages/op")
}
