// Package hashing defines deltalog's checksums: the canonical encoding of a
// package, package and packageset checksums, and state checksums.
//
// Change detection is only as good as its checksums, so they are defined
// with care:
//
//   - A package's checksum is xxhash64, with a configurable seed, over a
//     canonical binary encoding: fields in a fixed order, each length
//     prefixed, lists sorted, map keys sorted. It depends on nothing but the
//     package's content — not on map iteration order, the Go version or the
//     machine — and is pinned by golden tests.
//   - A packageset's checksum hashes the sorted list of its package
//     checksums. It is independent of package order and, unlike an XOR of
//     package hashes, two identical packages do not cancel out. True
//     duplicates (identical content) are detected and dropped by Group,
//     which reports them.
//   - A state checksum is the wrapping sum (mod 2^64) of one contribution
//     per packageset, each a hash of (repository, project, packageset
//     checksum). Being a sum, it is kept incrementally (subtract the old
//     contribution, add the new one); being a sum of hashes keyed by
//     repository and project, equal states give equal checksums.
//
// AlgorithmVersion names this definition. Changing the encoding, the seed or
// the algorithm changes every checksum; deltalog records both with each
// repository and re-derives everything when they change.
package hashing
