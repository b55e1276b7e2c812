// Package changelog turns repository snapshots into an append-only, gap-free
// log of packageset changes, and reads it back.
//
// Update diffs a hashed snapshot against the stored packageset checksums and
// writes, in one transaction, the edit batch, one event per changed
// packageset, and the current-state tables (packagesets, packages). An
// unchanged packageset costs nothing: a snapshot identical to the stored
// state writes no row at all, not even a batch. [Store] is the one writer
// of the current state, batch records and events: the updater and a
// follower (package replay) both write through it. [ReadPage] is the one
// reader of the log: projections, tail and the feeds all consume a [Page].
//
// # Ordering
//
// Readers page through the log by seq. That is only safe if a reader that
// sees seq N can never later see a smaller seq commit. deltalog guarantees it
// by serializing appends: each append takes the row lock on changelog_head,
// allocates its seq range from it, and holds the lock until commit, so seq
// ranges commit in the order they were allocated and a rolled back append
// leaves no hole. Updates of different repositories run concurrently up to
// that point — parsing, diffing and writing current state — and only the
// append itself is serialized. Updates of one repository serialize on an
// advisory lock for their whole transaction.
package changelog
