package changelog

import "errors"

var (
	// ErrSuspiciousSnapshot is returned when a snapshot is empty or has fewer
	// than half the repository's current packages. A broken fetch must not
	// wipe a repository; pass Force to apply such a snapshot anyway.
	ErrSuspiciousSnapshot = errors.New("suspicious snapshot")

	// ErrInvalidRepo is returned for an empty or otherwise unusable
	// repository name.
	ErrInvalidRepo = errors.New("invalid repository name")

	// ErrNotFound is returned for a batch that does not exist.
	ErrNotFound = errors.New("not found")
)
