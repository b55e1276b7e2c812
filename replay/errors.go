package replay

import (
	"errors"
	"fmt"
)

var (
	// ErrDiverged is returned (wrapped in a *DivergenceError) when a
	// follower's state no longer matches the leader's.
	ErrDiverged = errors.New("follower diverged from the leader")

	// ErrGap is returned when a feed skips events: the next event received
	// is not the one after the last applied, or a feed starts inside a batch.
	ErrGap = errors.New("gap in the changelog feed")

	// ErrFollowerRunning is returned when another follower already applies
	// into the same database.
	ErrFollowerRunning = errors.New("another follower is running on this database")

	// ErrStreamAhead is returned by the replicator when its NATS stream holds
	// seqs beyond the leader's head: it was fed by another leader.
	ErrStreamAhead = errors.New("NATS stream is ahead of the changelog")

	// ErrUnsupportedHashVersion is returned when a batch was hashed with an
	// algorithm version this build does not implement.
	ErrUnsupportedHashVersion = errors.New("unsupported hash algorithm version")

	// ErrBadFeed is returned for malformed feed data.
	ErrBadFeed = errors.New("malformed changelog feed")
)

// DivergenceError says where a follower diverged from its leader.
type DivergenceError struct {
	Repo string
	// Project is set when one packageset was found to differ.
	Project string
	Seq     int64
	Batch   int64
	// What differs: "repository state checksum", "global state checksum",
	// "old packageset checksum", …
	What      string
	Want, Got string
}

func (e *DivergenceError) Error() string {
	where := fmt.Sprintf("repository %s", e.Repo)
	if e.Project != "" {
		where += fmt.Sprintf(", project %s", e.Project)
	}
	return fmt.Sprintf("%v: %s at seq %d (batch %d): %s is %s, the leader's is %s",
		ErrDiverged, where, e.Seq, e.Batch, e.What, e.Got, e.Want)
}

func (e *DivergenceError) Unwrap() error { return ErrDiverged }
