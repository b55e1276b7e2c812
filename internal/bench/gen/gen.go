package gen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/deltalog/deltalog/events"
)

// Defaults of Config.
const (
	DefaultRepos    = 300
	DefaultPackages = 1_000_000
	DefaultRate     = 0.01
	// MaxRepos bounds Config.Repos (a packageset key packs the repository
	// in 16 bits).
	MaxRepos = 1 << 16
	// MaxPackages bounds Config.Packages.
	MaxPackages = 100_000_000
)

// The mix of changes from one generation to the next, as shares of
// Config.Rate. Additions are new projects; the other kinds hit existing
// packagesets.
const (
	shareBump        = 0.70
	shareMaintainers = 0.08
	shareLinks       = 0.07
	shareRemove      = 0.07
	shareAdd         = 0.08
	shareExisting    = shareBump + shareMaintainers + shareLinks + shareRemove
)

// Config configures a Generator. The zero value of each field means its
// default.
type Config struct {
	// Seed makes the catalog; the same Config always generates the same
	// bytes. Zero is a seed like any other.
	Seed uint64
	// Repos is the number of repositories. Default 300.
	Repos int
	// Packages is the approximate number of packages of generation 0.
	// Default 1,000,000.
	Packages int
	// Rate is the share of packagesets that change from one generation to
	// the next (version bumps, maintainer and link changes, removals,
	// additions). Default 0.01. Generation 0 does not depend on it.
	Rate float64
	// Maintainers is the size of the maintainer pool. Default Packages/8.
	Maintainers int
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Repos == 0 {
		c.Repos = DefaultRepos
	}
	if c.Packages == 0 {
		c.Packages = DefaultPackages
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Maintainers == 0 {
		c.Maintainers = max(c.Packages/8, 10)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Repos < 1 || c.Repos > MaxRepos {
		errs = append(errs, fmt.Errorf("Repos %d outside [1, %d]", c.Repos, MaxRepos))
	}
	if c.Packages < 1 || c.Packages > MaxPackages {
		errs = append(errs, fmt.Errorf("Packages %d outside [1, %d]", c.Packages, MaxPackages))
	}
	if !(c.Rate > 0 && c.Rate <= 1) {
		errs = append(errs, fmt.Errorf("Rate %v outside (0, 1]", c.Rate))
	}
	if c.Maintainers < 1 {
		errs = append(errs, fmt.Errorf("Maintainers %d must be positive", c.Maintainers))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	return nil
}

// Stats counts what one generation holds.
type Stats struct {
	Generation  int `json:"generation"`
	Projects    int `json:"projects"`
	Packagesets int `json:"packagesets"`
	Packages    int `json:"packages"`
	// Bytes is the size of the JSONL output (WriteFiles only).
	Bytes int64 `json:"bytes,omitempty"`
}

// Generator produces the generations of one synthetic catalog. It is safe
// for concurrent use: Generate keeps its state on the stack.
type Generator struct {
	cfg      Config
	repos    []repo
	weights  []float64 // repository weights (Zipf)
	repoCDF  []float64 // cumulative weights, normalized
	kCDF     []float64 // repositories per project, k = 1..Repos
	mCDF     []float64 // packages per packageset, m = 1..maxSetSize
	maintCDF []float64 // maintainer popularity ranks
	p0, s0   int       // projects and packagesets of generation 0
	// born[t] is the number of projects that exist at generation t
	// (born[0] = p0); extended on demand.
	born []int
	mu   chan struct{} // guards born
}

// repo is one repository: its name and family.
type repo struct {
	name   string
	family *family
	offset int // maintainer pool offset of the family
}

const maxSetSize = 40

// New validates cfg (after defaults) and returns its Generator.
func New(cfg Config) (*Generator, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := &Generator{cfg: cfg, mu: make(chan struct{}, 1)}

	perFamily := map[string]int{}
	for i := range cfg.Repos {
		f := &families[i%len(families)]
		perFamily[f.name]++
		g.repos = append(g.repos, repo{
			name:   fmt.Sprintf("%s_%d", f.name, perFamily[f.name]),
			family: f,
			offset: int(g.hash(tagFamily, uint64(i%len(families)), 0) % uint64(cfg.Maintainers)),
		})
		g.weights = append(g.weights, 1/float64(i+10))
	}
	g.repoCDF = cdf(len(g.weights), func(i int) float64 { return g.weights[i] })
	g.kCDF = cdf(cfg.Repos, func(i int) float64 { return math.Pow(float64(i+1), -2.5) })
	g.mCDF = cdf(maxSetSize, func(i int) float64 { return math.Pow(float64(i+1), -3) })
	g.maintCDF = cdf(cfg.Maintainers, func(i int) float64 { return 1 / float64(i+2) })

	packages := 0
	for packages < cfg.Packages {
		k := g.numRepos(g.p0)
		for j := range k {
			packages += g.setSize(g.p0, j)
		}
		g.s0 += k
		g.p0++
	}
	g.born = []int{g.p0}
	return g, nil
}

// Config returns the configuration in effect (defaults filled in).
func (g *Generator) Config() Config { return g.cfg }

// Repos returns the repository names, largest first.
func (g *Generator) Repos() []string {
	out := make([]string, len(g.repos))
	for i, r := range g.repos {
		out[i] = r.name
	}
	return out
}

// cdf returns the normalized cumulative sums of n weights.
func cdf(n int, w func(int) float64) []float64 {
	out := make([]float64, n)
	sum := 0.0
	for i := range n {
		sum += w(i)
		out[i] = sum
	}
	for i := range out {
		out[i] /= sum
	}
	out[n-1] = 1
	return out
}

// pick returns the index i with cdf[i-1] <= u < cdf[i].
func pick(cdf []float64, u float64) int {
	i := sort.SearchFloat64s(cdf, u)
	if i < len(cdf) && cdf[i] == u {
		i++
	}
	return min(i, len(cdf)-1)
}

// Hash tags: each kind of draw hashes its key with its own tag.
const (
	tagK uint64 = iota + 1
	tagM
	tagRepos
	tagEvent
	tagLatest
	tagLag
	tagVersion
	tagBump
	tagRevision
	tagMaintCount
	tagMaint
	tagHomepage
	tagHasHomepage
	tagHasVCS
	tagName
	tagSummary
	tagCategory
	tagFamily
	tagPerson
)

func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hash is a pure function of the seed, a tag and two keys.
func (g *Generator) hash(tag, a, b uint64) uint64 {
	x := mix(g.cfg.Seed ^ 0x6a09e667f3bcc909)
	x = mix(x ^ tag*0x9e3779b97f4a7c15)
	x = mix(x ^ a)
	return mix(x ^ (b + 0x3c6ef372fe94f82b))
}

// unit maps a hash to [0, 1).
func unit(x uint64) float64 { return float64(x>>11) / (1 << 53) }

// numRepos is how many repositories carry project id.
func (g *Generator) numRepos(id int) int {
	return pick(g.kCDF, unit(g.hash(tagK, uint64(id), 0))) + 1
}

// setSize is how many packages the j-th packageset of project id holds.
func (g *Generator) setSize(id, j int) int {
	return pick(g.mCDF, unit(g.hash(tagM, uint64(id), uint64(j)))) + 1
}

// projectRepos appends the repositories of project id to buf, ascending:
// a sample without replacement weighted by repository size.
func (g *Generator) projectRepos(id int, rng *rand.Rand, pcg *rand.PCG, buf []int32) []int32 {
	k := g.numRepos(id)
	pcg.Seed(g.cfg.Seed^tagRepos, uint64(id))
	buf = buf[:0]
	if k <= 16 && k*2 <= len(g.repos) {
		for len(buf) < k {
			r := int32(pick(g.repoCDF, rng.Float64()))
			if !slices.Contains(buf, r) {
				buf = append(buf, r)
			}
		}
	} else {
		// Efraimidis–Spirakis: the k smallest Exp(1)/w.
		type keyed struct {
			key float64
			r   int32
		}
		keys := make([]keyed, len(g.repos))
		for i, w := range g.weights {
			keys[i] = keyed{rng.ExpFloat64() / w, int32(i)}
		}
		slices.SortFunc(keys, func(a, b keyed) int { return cmpFloat(a.key, b.key) })
		for _, kk := range keys[:k] {
			buf = append(buf, kk.r)
		}
	}
	slices.Sort(buf)
	return buf
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// projectsAt returns how many projects exist (were born) by generation
// gen, and the birth generation of project id is the first t with
// id < born[t].
func (g *Generator) projectsAt(gen int) []int {
	g.mu <- struct{}{}
	defer func() { <-g.mu }()
	for len(g.born) <= gen {
		t := len(g.born)
		next := g.born[t-1]
		want := int(math.Round(float64(g.s0) * g.cfg.Rate * shareAdd))
		for sets := 0; sets < want; next++ {
			sets += g.numRepos(next)
		}
		g.born = append(g.born, next)
	}
	return slices.Clone(g.born[:gen+1])
}

// slotState is a packageset's history up to a generation.
type slotState struct {
	alive                  bool
	bumps, maint, linkEpoc int
}

// slot replays the change events of packageset key from the step after
// its birth to gen.
func (g *Generator) slot(key uint64, birth, gen int) slotState {
	st := slotState{alive: true}
	p := g.cfg.Rate * shareExisting
	for t := birth + 1; t <= gen; t++ {
		u := unit(g.hash(tagEvent, key, uint64(t)))
		if u >= p {
			continue
		}
		switch v := u / p * shareExisting; {
		case v < shareBump:
			st.bumps++
		case v < shareBump+shareMaintainers:
			st.maint++
		case v < shareBump+shareMaintainers+shareLinks:
			st.linkEpoc++
		default:
			st.alive = false
			return st
		}
	}
	return st
}

// Generate streams generation gen: every package of every repository, in
// repository-index order within each project, projects in order. fn gets
// the repository's index (see Repos) and a package it may keep.
func (g *Generator) Generate(ctx context.Context, gen int, fn func(repo int, p events.Package) error) (Stats, error) {
	if gen < 0 {
		return Stats{}, fmt.Errorf("gen: generation %d is negative", gen)
	}
	born := g.projectsAt(gen)
	st := Stats{Generation: gen}
	pcg := rand.NewPCG(0, 0)
	rng := rand.New(pcg)
	var repos []int32
	var b builder
	birth := 0
	for id := 0; id < born[gen]; id++ {
		if id%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
		for id >= born[birth] {
			birth++
		}
		repos = g.projectRepos(id, rng, pcg, repos)
		present := false
		for j, r := range repos {
			key := uint64(id)<<16 | uint64(r)
			s := g.slot(key, birth, gen)
			if !s.alive {
				continue
			}
			present = true
			st.Packagesets++
			for sub := range g.setSize(id, j) {
				p := b.pkg(g, id, int(r), key, sub, s)
				st.Packages++
				if err := fn(int(r), p); err != nil {
					return st, err
				}
			}
		}
		if present {
			st.Projects++
		}
	}
	return st, nil
}

// WriteFiles writes generation gen into dir (created if missing), one
// <repo>.jsonl file per repository — an empty file for a repository with no
// packages — and returns their paths in repository order.
func (g *Generator) WriteFiles(ctx context.Context, gen int, dir string) ([]string, Stats, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, Stats{}, err
	}
	paths := make([]string, len(g.repos))
	files := make([]*os.File, len(g.repos))
	writers := make([]*bufio.Writer, len(g.repos))
	closeAll := func() error {
		var errs []error
		for i, f := range files {
			if f == nil {
				continue
			}
			if err := writers[i].Flush(); err != nil {
				errs = append(errs, err)
			}
			if err := f.Close(); err != nil {
				errs = append(errs, err)
			}
			files[i] = nil
		}
		return errors.Join(errs...)
	}
	defer closeAll() //nolint:errcheck // closed explicitly on success
	for i, r := range g.repos {
		paths[i] = filepath.Join(dir, r.name+".jsonl")
		f, err := os.Create(paths[i])
		if err != nil {
			return nil, Stats{}, err
		}
		files[i], writers[i] = f, bufio.NewWriterSize(f, 32<<10)
	}
	var buf []byte
	var size int64
	st, err := g.Generate(ctx, gen, func(repo int, p events.Package) error {
		buf = AppendJSON(buf[:0], &p)
		buf = append(buf, '\n')
		size += int64(len(buf))
		_, err := writers[repo].Write(buf)
		return err
	})
	if err != nil {
		return nil, st, fmt.Errorf("gen: generation %d: %w", gen, err)
	}
	if err := closeAll(); err != nil {
		return nil, st, fmt.Errorf("gen: generation %d: %w", gen, err)
	}
	st.Bytes = size
	return paths, st, nil
}
