package hashing

import (
	"cmp"
	"slices"

	"github.com/deltalog/deltalog/events"
)

// Hashed is a package with its checksum.
type Hashed struct {
	Sum Sum
	Pkg events.Package
}

// Packageset is all packages of one project in one repository snapshot,
// sorted by checksum, with the packageset checksum.
type Packageset struct {
	Project  string
	Sum      Sum
	Packages []Hashed
}

// Duplicate reports a package that appeared more than once with identical
// content in one snapshot. Only one copy is kept.
type Duplicate struct {
	Project, Name, Version string
	Copies                 int
}

// Grouped is a snapshot reduced to packagesets.
type Grouped struct {
	// Packagesets are sorted by project.
	Packagesets []Packageset
	// Packages counts the distinct packages kept.
	Packages   int
	Duplicates []Duplicate
}

// Group hashes every package, groups them into packagesets by project and
// computes the packageset checksums. Identical packages (same checksum in
// the same packageset) are true duplicates: one is kept and the others are
// reported, which is what makes the packageset checksum safe with them.
func Group(h *Hasher, pkgs []events.Package) Grouped {
	hashed := make([]Hashed, len(pkgs))
	for i := range pkgs {
		hashed[i] = Hashed{Sum: h.Package(&pkgs[i]), Pkg: pkgs[i]}
	}
	slices.SortFunc(hashed, func(a, b Hashed) int {
		return cmp.Or(cmp.Compare(a.Pkg.Project, b.Pkg.Project), cmp.Compare(a.Sum, b.Sum))
	})

	var g Grouped
	sums := make([]Sum, 0, 16)
	for start := 0; start < len(hashed); {
		end := start + 1
		for end < len(hashed) && hashed[end].Pkg.Project == hashed[start].Pkg.Project {
			end++
		}
		set := hashed[start:end:end]
		kept := set[:1]
		for i := 1; i < len(set); i++ {
			if set[i].Sum == kept[len(kept)-1].Sum {
				last := &kept[len(kept)-1].Pkg
				if n := len(g.Duplicates); n > 0 && g.Duplicates[n-1].Project == last.Project &&
					g.Duplicates[n-1].Name == last.Name && g.Duplicates[n-1].Version == last.Version {
					g.Duplicates[n-1].Copies++
				} else {
					g.Duplicates = append(g.Duplicates, Duplicate{Project: last.Project, Name: last.Name, Version: last.Version, Copies: 2})
				}
				continue
			}
			kept = append(kept, set[i])
		}
		sums = sums[:0]
		for _, p := range kept {
			sums = append(sums, p.Sum)
		}
		g.Packagesets = append(g.Packagesets, Packageset{
			Project:  hashed[start].Pkg.Project,
			Sum:      h.Packageset(sums),
			Packages: kept,
		})
		g.Packages += len(kept)
		start = end
	}
	return g
}

// State is a state checksum: the wrapping sum of packageset contributions.
// The zero State is the checksum of an empty catalog.
type State uint64

// Add adds a contribution.
func (s State) Add(c Sum) State { return s + State(c) }

// Remove removes a contribution added before.
func (s State) Remove(c Sum) State { return s - State(c) }

// Sum returns the state as a Sum, for display and storage.
func (s State) Sum() Sum { return Sum(s) }
