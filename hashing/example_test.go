package hashing_test

import (
	"fmt"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
)

// How checksums compose: packages into packagesets, packagesets into a
// repository's state, which an update moves by removing the old
// contribution of a changed packageset and adding its new one.
func Example() {
	h := hashing.New(hashing.DefaultSeed)
	snapshot := []events.Package{
		{Project: "hello", Name: "hello", Version: "2.12-1"},
		{Project: "hello", Name: "hello-traditional", Version: "2.12-1"},
		{Project: "zlib", Name: "zlib1g", Version: "1:1.2.13"},
	}
	g := hashing.Group(h, snapshot)
	var state hashing.State
	for _, ps := range g.Packagesets {
		fmt.Println(ps.Project, len(ps.Packages), "packages")
		state = state.Add(h.Contribution("debian_12", ps.Project, ps.Sum))
	}

	// zlib changes: only its contribution moves the state.
	newer := hashing.Group(h, []events.Package{{Project: "zlib", Name: "zlib1g", Version: "1:1.3"}}).Packagesets[0]
	old := g.Packagesets[1]
	after := state.Remove(h.Contribution("debian_12", "zlib", old.Sum)).Add(h.Contribution("debian_12", "zlib", newer.Sum))

	// The same snapshot, hashed from scratch, has the same state.
	var fresh hashing.State
	fresh = fresh.Add(h.Contribution("debian_12", "zlib", newer.Sum))
	fresh = fresh.Add(h.Contribution("debian_12", "hello", g.Packagesets[0].Sum))
	fmt.Println(after == fresh, after == state)

	// Sums travel as 16 hex digits.
	back, err := hashing.ParseSum(after.Sum().String())
	fmt.Println(len(after.Sum().String()), back == after.Sum(), err)
	// Output:
	// hello 2 packages
	// zlib 1 packages
	// true false
	// 16 true <nil>
}

// The canonical encoding, and so a package's checksum, does not depend on
// the order of its lists.
func ExampleHasher_Package() {
	h := hashing.New(hashing.DefaultSeed)
	a := events.Package{Project: "hello", Name: "hello", Version: "2.12-1",
		Links: []events.Link{{Kind: "homepage", URL: "https://www.gnu.org/software/hello/"}, {Kind: "vcs-git", URL: "https://salsa.debian.org/hello.git"}}}
	b := a
	b.Links = []events.Link{a.Links[1], a.Links[0]}
	c := a
	c.Version = "2.12-2"
	fmt.Println(h.Package(&a) == h.Package(&b), h.Package(&a) == h.Package(&c))
	// Output: true false
}
