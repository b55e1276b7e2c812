package hashing_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixturePackages are real packages (from bookworm Sources and Packages and
// the PyPI list) covering every field of the model.
func fixturePackages() []events.Package {
	return []events.Package{
		{
			Project: "0ad", Name: "0ad", Version: "0.0.26-3", Category: "games",
			Maintainers: []events.Maintainer{
				{Email: "pkg-games-devel@lists.alioth.debian.org", Name: "Debian Games Team"},
				{Email: "rousseau@debian.org", Name: "Ludovic Rousseau"},
				{Email: "vcheng@debian.org", Name: "Vincent Cheng"},
			},
			Links: []events.Link{
				{Kind: "homepage", URL: "https://play0ad.com/"},
				{Kind: "vcs-browser", URL: "https://salsa.debian.org/games-team/0ad"},
				{Kind: "vcs-git", URL: "https://salsa.debian.org/games-team/0ad.git"},
			},
		},
		{
			Project: "0ad-data", Name: "0ad-data-common", Version: "0.0.26-1", Category: "games",
			Summary:     "Real-time strategy game of ancient warfare (data files)",
			Maintainers: []events.Maintainer{{Email: "pkg-games-devel@lists.alioth.debian.org", Name: "Debian Games Team"}},
			Links:       []events.Link{{Kind: "homepage", URL: "https://play0ad.com/"}},
			Extra:       map[string]string{"architecture": "all"},
		},
		{
			Project: "0-0-1", Name: "0-0-1", Version: "0.0.1",
			Summary: "A lib for creating tensorflow tfrecords",
			Extra:   map[string]string{"month": "2017-12"},
		},
		{Project: "x", Name: "x", Version: ""},
		{Project: "unicode", Name: "unicode", Version: "1.0", Summary: "naïve café ☕"},
	}
}

type golden struct {
	Seed        string            `json:"seed"`
	Version     int               `json:"algorithm_version"`
	Packages    map[string]string `json:"packages"`
	Packageset  string            `json:"packageset"`
	State       string            `json:"state"`
	EmptyState  string            `json:"empty_state"`
	EmptyPkgset string            `json:"empty_packageset"`
}

func computeGolden() golden {
	h := hashing.New(hashing.DefaultSeed)
	g := golden{
		Seed: fmt.Sprintf("%016x", hashing.DefaultSeed), Version: hashing.AlgorithmVersion,
		Packages: map[string]string{},
	}
	pkgs := fixturePackages()
	grouped := hashing.Group(h, pkgs)
	for _, p := range pkgs {
		g.Packages[p.Project+"/"+p.Name] = h.Package(&p).String()
	}
	var st hashing.State
	for _, ps := range grouped.Packagesets {
		st = st.Add(h.Contribution("debian_12", ps.Project, ps.Sum))
	}
	g.State = st.Sum().String()
	g.Packageset = grouped.Packagesets[0].Sum.String()
	g.EmptyPkgset = h.Packageset(nil).String()
	g.EmptyState = hashing.State(0).Sum().String()
	return g
}

// TestGolden pins checksums: any change of the canonical encoding, the
// combination or the seed fails here. If the change is intended, bump
// AlgorithmVersion and run `go test ./hashing -run TestGolden -update`.
func TestGolden(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "testdata", "hashing", "golden.json")
	got := computeGolden()
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, append(b, '\n'), 0o644))
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var want golden
	require.NoError(t, json.Unmarshal(b, &want))
	require.Equal(t, want, got, "checksums changed: bump AlgorithmVersion if intended")
}

func TestPackageChecksumIgnoresListOrder(t *testing.T) {
	t.Parallel()
	h := hashing.New(hashing.DefaultSeed)
	p := fixturePackages()[0]
	q := p
	q.Maintainers = []events.Maintainer{p.Maintainers[2], p.Maintainers[0], p.Maintainers[1]}
	q.Links = []events.Link{p.Links[1], p.Links[2], p.Links[0]}
	q.Extra = map[string]string{"b": "2", "a": "1", "c": "3"}
	p.Extra = map[string]string{"a": "1", "c": "3", "b": "2"}
	require.Equal(t, h.Package(&p), h.Package(&q))
}

func TestPackageChecksumSeesEveryField(t *testing.T) {
	t.Parallel()
	h := hashing.New(hashing.DefaultSeed)
	base := fixturePackages()[1]
	edits := map[string]func(*events.Package){
		"project":  func(p *events.Package) { p.Project += "x" },
		"name":     func(p *events.Package) { p.Name += "x" },
		"version":  func(p *events.Package) { p.Version += "x" },
		"summary":  func(p *events.Package) { p.Summary += "x" },
		"category": func(p *events.Package) { p.Category += "x" },
		"m.email":  func(p *events.Package) { p.Maintainers[0].Email += "x" },
		"m.name":   func(p *events.Package) { p.Maintainers[0].Name += "x" },
		"l.kind":   func(p *events.Package) { p.Links[0].Kind += "x" },
		"l.url":    func(p *events.Package) { p.Links[0].URL += "x" },
		"extra.k":  func(p *events.Package) { p.Extra = map[string]string{"architecturex": "all"} },
		"extra.v":  func(p *events.Package) { p.Extra = map[string]string{"architecture": "allx"} },
		// Moving bytes between adjacent fields must change the sum: the
		// length prefixes are what guarantee it.
		"shift": func(p *events.Package) { p.Name, p.Version = p.Name+p.Version[:1], p.Version[1:] },
	}
	want := h.Package(&base)
	for name, edit := range edits {
		p := base
		p.Maintainers = append([]events.Maintainer(nil), base.Maintainers...)
		p.Links = append([]events.Link(nil), base.Links...)
		edit(&p)
		require.NotEqual(t, want, h.Package(&p), name)
	}
}

func TestSeedChangesEverything(t *testing.T) {
	t.Parallel()
	p := fixturePackages()[0]
	require.NotEqual(t, hashing.New(1).Package(&p), hashing.New(2).Package(&p))
}

func TestGroupIsOrderIndependentAndDetectsDuplicates(t *testing.T) {
	t.Parallel()
	h := hashing.New(hashing.DefaultSeed)
	pkgs := fixturePackages()
	// A second version of 0ad is a distinct package of the same packageset.
	v2 := pkgs[0]
	v2.Version = "0.0.27-1"
	pkgs = append(pkgs, v2)
	want := hashing.Group(h, pkgs)
	require.Empty(t, want.Duplicates)
	require.Equal(t, len(pkgs), want.Packages)
	require.Len(t, want.Packagesets, len(pkgs)-1)

	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := append([]events.Package(nil), pkgs...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		require.Equal(t, want.Packagesets, hashing.Group(h, shuffled).Packagesets)
	}

	// True duplicates are dropped and reported; the checksum stays that of
	// the set, and it does not cancel out as an XOR would.
	dup := append(append([]events.Package(nil), pkgs...), pkgs[0], pkgs[0])
	got := hashing.Group(h, dup)
	require.Equal(t, want.Packagesets, got.Packagesets)
	require.Equal(t, []hashing.Duplicate{{Project: "0ad", Name: "0ad", Version: "0.0.26-3", Copies: 3}}, got.Duplicates)
	require.NotEqual(t, h.Packageset(nil), want.Packagesets[0].Sum)
}

func TestStateIsIncremental(t *testing.T) {
	t.Parallel()
	h := hashing.New(hashing.DefaultSeed)
	a := h.Contribution("r", "a", 1)
	b := h.Contribution("r", "b", 2)
	b2 := h.Contribution("r", "b", 3)
	var s hashing.State
	s = s.Add(a).Add(b)
	// Replace b by b2 incrementally; compare with building from scratch in
	// the other order.
	s = s.Remove(b).Add(b2)
	require.Equal(t, hashing.State(0).Add(b2).Add(a), s)
	require.NotEqual(t, hashing.State(0).Add(b).Add(a), s)
	// Contributions are keyed by repository and project.
	require.NotEqual(t, h.Contribution("r", "a", 1), h.Contribution("q", "a", 1))
	require.NotEqual(t, h.Contribution("ra", "", 1), h.Contribution("r", "a", 1))
}

func TestSumRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range []hashing.Sum{0, 1, 0xdeadbeef, ^hashing.Sum(0)} {
		s := v.String()
		require.Len(t, s, 16)
		got, err := hashing.ParseSum(s)
		require.NoError(t, err)
		require.Equal(t, v, got)
	}
	_, err := hashing.ParseSum("xyz")
	require.ErrorContains(t, err, "16 hex digits")
	_, err = hashing.ParseSum(strings.Repeat("g", 16))
	require.Error(t, err)
}

func BenchmarkPackage(b *testing.B) {
	h := hashing.New(hashing.DefaultSeed)
	p := fixturePackages()[0]
	b.SetBytes(int64(len(hashing.AppendCanonical(nil, &p))))
	for b.Loop() {
		h.Package(&p)
	}
}
