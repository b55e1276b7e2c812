package events

// VersionScheme names the rules a repository's versions are ordered by
// ("generic", "debian", "pypi", "semver"; "npm" is semver's former name).
// Batches carry it because a package's stored version key is computed with
// it: a consumer that recomputes keys (a follower) must use the same rules.
type VersionScheme string
