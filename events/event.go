package events

import "time"

// Kind says what happened to a packageset.
type Kind string

const (
	// KindAdded: the packageset did not exist in the repository before.
	KindAdded Kind = "added"
	// KindChanged: the packageset's content changed; the event carries the
	// packages removed and added.
	KindChanged Kind = "changed"
	// KindRemoved: the packageset is gone from the repository.
	KindRemoved Kind = "removed"
	// KindInvalidated: the stored checksum was forgotten (invalidation, or a
	// change of hash seed or algorithm); the event re-states the full content
	// so that projections re-derive it. It is not a change of content.
	KindInvalidated Kind = "invalidated"
)

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindAdded, KindChanged, KindRemoved, KindInvalidated:
		return true
	}
	return false
}

// Event is one changed packageset: the unit of the changelog.
//
// Removed and Added hold only the packages whose own checksum differs between
// the old and the new packageset; a package present in both is in neither.
// Checksums are rendered as 16 hex digits (see hashing.Sum.String).
type Event struct {
	Seq         int64     `json:"seq"`
	Batch       int64     `json:"batch"`
	Repo        string    `json:"repo"`
	Project     string    `json:"project"`
	Kind        Kind      `json:"kind"`
	OldChecksum string    `json:"old_checksum,omitempty"`
	NewChecksum string    `json:"new_checksum,omitempty"`
	Removed     []Package `json:"removed,omitempty"`
	Added       []Package `json:"added,omitempty"`
	// BatchEnd is set on the last event of a batch, together with the state
	// checksums after the batch: a consumer that has applied everything up
	// to here can verify itself against them.
	BatchEnd *BatchEnd `json:"batch_end,omitempty"`
}

// BatchEnd marks the last event of a batch and carries the state checksums
// after it was applied.
type BatchEnd struct {
	RepoStateChecksum   string `json:"repo_state_checksum"`
	GlobalStateChecksum string `json:"global_state_checksum"`
}

// Batch is one update run of one repository (an "editgroup").
type Batch struct {
	ID          int64       `json:"id"`
	Repo        string      `json:"repo"`
	Kind        string      `json:"kind"` // "update" or "invalidate"
	Files       []InputFile `json:"files,omitempty"`
	StartedAt   time.Time   `json:"started_at"`
	FinishedAt  time.Time   `json:"finished_at"`
	HashSeed    uint64      `json:"hash_seed"`
	HashVersion int         `json:"hash_version"`
	FirstSeq    int64       `json:"first_seq"`
	LastSeq     int64       `json:"last_seq"`
	Counts      Counts      `json:"counts"`
	// Reason and Actor are set for invalidations.
	Reason string `json:"reason,omitempty"`
	Actor  string `json:"actor,omitempty"`
	// RepoStateChecksum and GlobalStateChecksum are the state checksums
	// after this batch committed.
	RepoStateChecksum   string `json:"repo_state_checksum"`
	GlobalStateChecksum string `json:"global_state_checksum"`
	// VersionScheme is the scheme the batch's packages' version keys were
	// computed with.
	VersionScheme VersionScheme `json:"version_scheme"`
	// Timings says where an update's time went; nil for batches written
	// before it was recorded.
	Timings *BatchTimings `json:"timings,omitempty"`
}

// BatchTimings splits an update's time, in seconds: reading and parsing
// its input, diffing it against the stored state, and writing current
// state, events and batch (the commit that follows is not in it).
type BatchTimings struct {
	Parse float64 `json:"parse"`
	Diff  float64 `json:"diff"`
	Write float64 `json:"write"`
}

// TimingsOf is the split of a batch record's columns, nil when any is
// NULL (not recorded).
func TimingsOf(parse, diff, write *float64) *BatchTimings {
	if parse == nil || diff == nil || write == nil {
		return nil
	}
	return &BatchTimings{Parse: *parse, Diff: *diff, Write: *write}
}

// InputFile records one file of a snapshot, so that a batch can be traced
// back to exactly the bytes it was computed from.
type InputFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// Counts are the sizes of a batch.
type Counts struct {
	Packages    int `json:"packages"`
	Packagesets int `json:"packagesets"`
	Added       int `json:"added"`
	Changed     int `json:"changed"`
	Removed     int `json:"removed"`
	Unchanged   int `json:"unchanged"`
	Invalidated int `json:"invalidated"`
	Skipped     int `json:"skipped"`
	Duplicates  int `json:"duplicates"`
	Events      int `json:"events"`
}
