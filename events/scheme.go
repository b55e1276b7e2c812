package events

// VersionScheme names the rules a repository's versions are ordered by
// ("generic", "debian", "pypi", "npm"). Batches carry it because a
// package's stored version key is computed with it: a consumer that
// recomputes keys (a follower) must use the same rules.
type VersionScheme string
