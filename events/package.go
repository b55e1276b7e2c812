package events

import (
	"cmp"
	"slices"
)

// Package is one entry of a repository snapshot: what a catalog knows about
// one version of one piece of software in one repository.
//
// The zero value of every field means "unknown". Slices are kept in canonical
// order by Normalize so that two equal packages compare and hash equal.
type Package struct {
	// Project is the cross-repository identity (Debian: the source package;
	// registries: the normalized name). Packages are grouped into packagesets
	// by (repository, Project).
	Project string `json:"project"`
	// Name is the package's own name in its repository (a Debian binary or
	// source package name, a registry name as published).
	Name    string `json:"name"`
	Version string `json:"version"`
	Summary string `json:"summary,omitempty"`
	// Category is the repository's classification (Debian: Section).
	Category    string       `json:"category,omitempty"`
	Maintainers []Maintainer `json:"maintainers,omitempty"`
	Links       []Link       `json:"links,omitempty"`
	// Extra holds format-specific fields (architecture, downloads, rank …)
	// that deltalog carries but does not interpret.
	Extra map[string]string `json:"extra,omitempty"`
}

// Maintainer is a person or team responsible for a package. Email is the
// identity; Name is informational.
type Maintainer struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

// Link is a URL attached to a package, with its kind ("homepage", "vcs-git",
// "vcs-browser", "repository", …).
type Link struct {
	Kind string `json:"kind"`
	URL  string `json:"url"`
}

// Normalize puts the package's lists in canonical order and removes exact
// repetitions inside them, so that equal content is equal data. Parsers call
// it on every package they emit; the hashing package relies on it.
func (p *Package) Normalize() {
	slices.SortFunc(p.Maintainers, func(a, b Maintainer) int {
		return cmp.Or(cmp.Compare(a.Email, b.Email), cmp.Compare(a.Name, b.Name))
	})
	p.Maintainers = slices.CompactFunc(p.Maintainers, func(a, b Maintainer) bool { return a.Email == b.Email })
	slices.SortFunc(p.Links, func(a, b Link) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.URL, b.URL))
	})
	p.Links = slices.Compact(p.Links)
	if len(p.Maintainers) == 0 {
		p.Maintainers = nil
	}
	if len(p.Links) == 0 {
		p.Links = nil
	}
	if len(p.Extra) == 0 {
		p.Extra = nil
	}
}
