// Package gen generates synthetic package catalogs at the scale of
// Repology: deterministic (seeded) snapshots of a few hundred repositories
// holding a million packages or more, and successive generations of them
// that differ by a configured change rate. It is what `deltalog gen` writes
// and what `deltalog bench` ingests.
//
// # Shape
//
// Repositories are named after real families (debian_1, fedora_1, pypi_1
// …) and sized by a Zipf law: repository 0 is the largest. Each project
// draws how many repositories carry it from a power law P(k) ∝ k^-2.5 —
// most projects are in one or two repositories, a few in hundreds — and
// which ones weighted by repository size. Each (project, repository)
// packageset holds one package mostly, sometimes a few more (P(m) ∝ m^-3:
// "-dev", "-doc" … subpackages). Versions are realistic strings (1.4.12,
// 2.0.3-1, 0.9.1_2, 3.1.0-r0) with repositories lagging behind upstream by
// a version or two, so newest and outdated mean something. Maintainers
// are drawn from a pool by a Zipf law (a few maintain tens of thousands of
// packages, most a handful); registry-like families have none. Links are
// a homepage per project, sometimes a VCS URL, and a per-package page in
// registry-like families.
//
// # Generations
//
// Generation 0 has about Config.Packages packages. Generation g+1 changes
// about Config.Rate of the packagesets of generation g: version bumps
// (70% of the changes), maintainer changes (8%), link changes (7%),
// removals (7%) and additions of new projects (8%). Everything is a pure
// function of (Seed, generation): a packageset's content at generation g
// is computed from hashes of its key and of the steps 1..g, so any
// generation is produced directly, in one streaming pass, without state
// and with little memory (the open output files only).
//
// # Output
//
// WriteFiles writes one file per repository, <repo>.jsonl, in the JSONL
// format of internal/input/formats (one events.Package per line). Generate
// streams the same packages to a function instead.
package gen
