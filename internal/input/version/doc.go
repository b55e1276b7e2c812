// Package version orders package versions, with two orders that answer two
// different questions and are never mixed:
//
//   - Within a repository — which of two versions of a package an overlay
//     keeps, whether a change of version is an upgrade or a downgrade — the
//     repository's own order, by its Scheme: dpkg's for Debian (Debian
//     Policy §5.6.12), PEP 440 for PyPI, Semantic Versioning for npm and
//     the like, libversion's for the rest. OrderOf returns it.
//   - Across repositories — the newest version of a project, whether a
//     package is newest or outdated — one generic order, libversion's
//     (Compare), on versions first normalized per scheme (Normalize), as
//     Repology does. Key encodes it into bytes for the database.
//
// # The orders of the schemes
//
// dpkg compares the epoch (1:) numerically, then the upstream version, then
// the revision (after the last -). Those two alternate runs of non-digits,
// compared byte by byte — ~ before everything, even the end (1.0~rc1 <
// 1.0), then letters, then every other byte (1.0a < 1.0+) — and runs of
// digits, compared as numbers (1.10 > 1.9).
//
// PEP 440 orders by epoch, release (1.0 == 1.0.0), then dev releases before
// pre-releases (a, b, rc) before the release before post-releases, and the
// local version last (1.0 < 1.0+local). Semantic Versioning orders by
// major.minor.patch, a pre-release before its release, pre-release
// identifiers numbers first (1.0.0-alpha.1 < 1.0.0-alpha.beta), build
// metadata ignored. Versions they reject sort before every valid one.
//
// # The generic order
//
// Compare is libversion's algorithm (its doc/ALGORITHM.md), including its
// flags (CompareFlags):
//
//   - A version is split into components: runs of ASCII letters and runs of
//     digits; every other byte separates them (1_2~3 == 1.2.3).
//   - Each component has a rank, compared before its value: pre-release <
//     zero < post-release < non-zero number < letter suffix. Pre-release
//     words are alpha, beta, rc, pre… and any unknown word (1.0alpha1 <
//     1.0rc1 < 1.0, 1.0git20240101 < 1.0); p too, unless PIsPatch.
//     Post-release words are post…, patch…, pl and errata (1.0 < 1.0patch1
//     < 1.0.1). One letter glued to a number and followed by a separator or
//     the end is a letter suffix (1.0 < 1.0.1 < 1.0a).
//   - Words compare case-insensitively by their first letter only (alpha ==
//     a), numbers numerically with any number of digits.
//   - A version that ran out of components is padded with zeros: 1.0 ==
//     1.0.0, 1.0.alpha < 1.0 < 1.0.post1.
//
// # Normalization
//
// Normalize keeps what identifies the upstream release and spells it as
// libversion reads it: for Debian it drops the epoch and the revision,
// reads X+reallyY as Y, drops bundle suffixes (+~cs…) and repack markers
// (+dfsg, +ds, +repack) and marks a ~ before a number as a pre-release; for
// PyPI it writes PEP 440's canonical form without epoch and local version;
// for semver it drops build metadata and makes every pre-release start
// with a pre-release word. The rules and their reasons are on each
// scheme's Normalize.
//
// # Keys
//
// Key encodes a version into bytes that sort like it: bytes.Compare(Key(a),
// Key(b)) == Compare(a, b) for every a and b, and equal versions have
// identical keys. It exists for the database: a version_key bytea column,
// which PostgreSQL compares with memcmp, lets SQL order versions and find
// each project's newest in bulk, with an index, without calling back into
// Go. Keys are a stored format, pinned by tests; OrderVersion names the
// definition they were computed with, and a repository stored with another
// is re-derived on its next update.
package version
