package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/version"
	dlsql "github.com/deltalog/deltalog/sql"
)

// applier applies the changelog into a follower database, one batch per
// transaction. A batch may arrive in several chunks; its transaction stays
// open until the chunk holding its last event (BatchEnd) commits it.
type applier struct {
	pool *pgxpool.Pool
	// session is the connection holding the follower's lock: every batch
	// is applied on it.
	session *pgxpool.Conn
	logger  *slog.Logger
	// head is the last seq committed: the follower's position.
	head int64
	cur  *openBatch
	// observe, when set, receives each committed batch's apply duration.
	observe func(time.Duration)
	stats   *changelog.StateAnalyzer
}

// openBatch is a batch whose transaction is open.
type openBatch struct {
	tx       pgx.Tx
	st       *changelog.Store
	batch    events.Batch
	repoID   int32
	rederive bool
	h, oldH  *hashing.Hasher
	state    hashing.State
	buckets  changelog.Buckets // the state by bucket, kept with it
	packages int
	sets     int
	next     int64 // the seq expected next
	started  time.Time
}

// rollback abandons the open batch, if any.
func (a *applier) rollback(ctx context.Context) {
	if a.cur != nil {
		_ = a.cur.tx.Rollback(context.WithoutCancel(ctx))
		a.cur = nil
	}
}

// apply applies consecutive events of one batch. Events at or below the
// committed head, or already applied in the open batch, are skipped: a feed
// may repeat what the follower has (idempotence by seq).
func (a *applier) apply(ctx context.Context, batch *events.Batch, evs []events.Event) (committed bool, err error) {
	skip := a.head
	if a.cur != nil {
		skip = a.cur.next - 1
	}
	for len(evs) > 0 && evs[0].Seq <= skip {
		evs = evs[1:]
	}
	if len(evs) == 0 {
		return false, nil
	}
	if a.cur == nil {
		if err := a.begin(ctx, batch, &evs[0]); err != nil {
			return false, err
		}
	}
	b := a.cur
	for i := range evs {
		ev := &evs[i]
		switch {
		case ev.Seq != b.next:
			return false, fmt.Errorf("%w: expected seq %d, got %d", ErrGap, b.next, ev.Seq)
		case ev.Batch != b.batch.ID || ev.Repo != b.batch.Repo:
			return false, fmt.Errorf("%w: event %d of batch %d (%s) inside batch %d (%s)",
				ErrBadFeed, ev.Seq, ev.Batch, ev.Repo, b.batch.ID, b.batch.Repo)
		case !ev.Kind.Valid():
			return false, fmt.Errorf("%w: event %d: kind %q", ErrBadFeed, ev.Seq, ev.Kind)
		case ev.BatchEnd != nil && (i != len(evs)-1 || ev.Seq != b.batch.LastSeq):
			return false, fmt.Errorf("%w: event %d ends batch %d, whose last seq is %d",
				ErrBadFeed, ev.Seq, b.batch.ID, b.batch.LastSeq)
		case ev.BatchEnd == nil && ev.Seq >= b.batch.LastSeq:
			return false, fmt.Errorf("%w: event %d is the last of batch %d but carries no batch end",
				ErrBadFeed, ev.Seq, b.batch.ID)
		}
		b.next++
	}
	if err := a.applyEvents(ctx, b, evs); err != nil {
		return false, err
	}
	if end := evs[len(evs)-1].BatchEnd; end != nil {
		if err := a.commit(ctx, b, &evs[len(evs)-1]); err != nil {
			return false, err
		}
		return true, nil
	}
	return false, nil
}

// begin opens the transaction of the batch that ev starts.
func (a *applier) begin(ctx context.Context, batch *events.Batch, ev *events.Event) error {
	if ev.Seq != a.head+1 {
		return fmt.Errorf("%w: the follower is at seq %d, the feed continues at %d", ErrGap, a.head, ev.Seq)
	}
	if batch == nil || batch.ID != ev.Batch {
		return fmt.Errorf("%w: no batch record for batch %d (event %d)", ErrBadFeed, ev.Batch, ev.Seq)
	}
	if batch.FirstSeq != ev.Seq || batch.LastSeq < batch.FirstSeq || batch.Repo == "" {
		return fmt.Errorf("%w: event %d does not start batch %d (seqs %d..%d)",
			ErrGap, ev.Seq, batch.ID, batch.FirstSeq, batch.LastSeq)
	}
	if batch.HashVersion != hashing.AlgorithmVersion {
		return fmt.Errorf("batch %d: %w: %d (this build has %d)", batch.ID, ErrUnsupportedHashVersion,
			batch.HashVersion, hashing.AlgorithmVersion)
	}
	if !version.Valid(batch.VersionScheme) {
		return fmt.Errorf("%w: batch %d: unknown version scheme %q", ErrBadFeed, batch.ID, batch.VersionScheme)
	}
	tx, err := a.session.Begin(ctx)
	if err != nil {
		return fmt.Errorf("follower: begin: %w", err)
	}
	// Statements run in a loop over a batch whose tables grow within the
	// transaction: a generic plan made while they were small (a
	// sequential scan) would stay in use long after it stopped fitting.
	if _, err := tx.Exec(ctx, dlsql.Query("replay-custom-plans")); err != nil {
		_ = tx.Rollback(ctx)
		return fmt.Errorf("follower: %w", err)
	}
	st := changelog.NewStore(tx)
	b := &openBatch{tx: tx, st: st, batch: *batch, next: ev.Seq, h: hashing.New(batch.HashSeed), started: time.Now()}
	a.cur = b
	head, err := st.LockHead(ctx)
	if err != nil {
		return fmt.Errorf("follower: %w", err)
	}
	if head != a.head {
		return fmt.Errorf("%w: the follower's head moved from %d to %d under it", ErrFollowerRunning, a.head, head)
	}
	// HasInvalid is the leader's concern: re-derivation arrives as events.
	repo, err := st.Repo(ctx, batch.Repo)
	switch {
	case err != nil:
		return fmt.Errorf("follower: %w", err)
	case repo.ID == 0:
		if b.repoID, err = st.CreateRepo(ctx, changelog.CreateRepoParams{Name: batch.Repo, Seed: batch.HashSeed,
			HashVersion: batch.HashVersion, Scheme: batch.VersionScheme}); err != nil {
			return fmt.Errorf("follower: %w", err)
		}
		b.oldH = b.h
		b.buckets = changelog.NewBuckets(batch.Counts.Packagesets)
	default:
		b.repoID, b.state, b.packages, b.sets = repo.ID, repo.State, repo.Packages, repo.Packagesets
		b.buckets = repo.Buckets // empty (not known) stays so, unless re-derived
		b.oldH = hashing.New(repo.Seed)
		// A change of seed, algorithm or version scheme re-derives the whole
		// repository on the leader: every row is rewritten and the state
		// rebuilt from the new contributions alone.
		if repo.Seed != batch.HashSeed || repo.HashVersion != batch.HashVersion || repo.Scheme != batch.VersionScheme {
			b.rederive, b.state = true, 0
			b.buckets = changelog.NewBuckets(batch.Counts.Packagesets)
		}
	}
	return nil
}

// applyEvents writes a chunk of the open batch: packages, packagesets and
// the events themselves, checking each event against the follower's state.
func (a *applier) applyEvents(ctx context.Context, b *openBatch, evs []events.Event) error {
	// What the follower holds of the touched packagesets. An added one must
	// be absent: the primary keys check that as the rows are inserted, so
	// an initial load reads nothing.
	var projects []string
	for i := range evs {
		if evs[i].Kind != events.KindAdded {
			projects = append(projects, evs[i].Project)
		}
	}
	oldSets := map[string]changelog.StoredSet{}
	oldRows := map[string][]changelog.StoredPackage{}
	if len(projects) > 0 {
		var err error
		if oldSets, err = b.st.Packagesets(ctx, changelog.PackagesetsParams{RepoID: b.repoID, Projects: projects}); err != nil {
			return fmt.Errorf("follower: %w", err)
		}
		// Keys are enough unless the batch re-derives them.
		if oldRows, err = b.st.Packages(ctx, changelog.PackagesParams{RepoID: b.repoID, Projects: projects,
			KeysOnly: !b.rederive}); err != nil {
			return fmt.Errorf("follower: %w", err)
		}
	}

	rows := changelog.RowsParams{RepoID: b.repoID, Scheme: b.batch.VersionScheme}
	diverged := func(ev *events.Event, what, want, got string) error {
		return &DivergenceError{Repo: ev.Repo, Project: ev.Project, Seq: ev.Seq, Batch: ev.Batch,
			What: what, Want: want, Got: got}
	}
	for i := range evs {
		ev := &evs[i]
		oldSet, hadOld := oldSets[ev.Project]
		old := oldSet.Sum
		olds := oldRows[ev.Project]
		if ev.Kind != events.KindAdded && (!hadOld || old.String() != ev.OldChecksum) {
			got := "absent"
			if hadOld {
				got = old.String()
			}
			return diverged(ev, "packageset checksum before the event", ev.OldChecksum, got)
		}
		// The stored packageset checksum must be that of the stored packages.
		oldKeys := make([]hashing.Sum, len(olds))
		for j := range olds {
			oldKeys[j] = olds[j].Key
		}
		slices.Sort(oldKeys)
		if hadOld {
			if got := b.oldH.Packageset(oldKeys); got != old {
				return diverged(ev, "checksum of the stored packages", old.String(), got.String())
			}
		}

		// The new content, keyed with the batch's seed.
		cur := make(map[hashing.Sum]*events.Package, len(olds)+len(ev.Added))
		for j := range olds {
			k := olds[j].Key
			if b.rederive {
				k = b.h.Package(&olds[j].Package)
			}
			cur[k] = &olds[j].Package
		}
		for j := range ev.Removed {
			k := b.h.Package(&ev.Removed[j])
			if _, ok := cur[k]; !ok {
				return diverged(ev, "removed package "+ev.Removed[j].Name+" "+ev.Removed[j].Version, "present", "absent")
			}
			delete(cur, k)
		}
		added := make([]changelog.PackageRow, 0, len(ev.Added))
		for j := range ev.Added {
			k := b.h.Package(&ev.Added[j])
			if _, ok := cur[k]; ok {
				return diverged(ev, "added package "+ev.Added[j].Name+" "+ev.Added[j].Version, "absent", "present")
			}
			cur[k] = &ev.Added[j]
			added = append(added, changelog.PackageRow{Key: k, Package: &ev.Added[j]})
		}
		newKeys := make([]hashing.Sum, 0, len(cur))
		for k := range cur {
			newKeys = append(newKeys, k)
		}
		slices.Sort(newKeys)
		var newSum hashing.Sum
		if len(newKeys) > 0 {
			newSum = b.h.Packageset(newKeys)
		}
		switch {
		case ev.Kind == events.KindRemoved && len(newKeys) > 0:
			return diverged(ev, "packages left after removal", "0", fmt.Sprint(len(newKeys)))
		case ev.Kind != events.KindRemoved && (len(newKeys) == 0 || newSum.String() != ev.NewChecksum):
			return diverged(ev, "packageset checksum after the event", ev.NewChecksum, newSum.String())
		}

		// State, as the leader keeps it, and by bucket.
		bucket := changelog.Bucket(ev.Project)
		if hadOld && !b.rederive {
			c := b.h.Contribution(ev.Repo, ev.Project, old)
			b.state = b.state.Remove(c)
			b.buckets.Remove(bucket, c)
		}
		if len(newKeys) > 0 {
			b.buckets.Add(bucket, b.h.Contribution(ev.Repo, ev.Project, newSum))
		}
		switch {
		case ev.Kind == events.KindAdded:
			b.state = b.state.Add(b.h.Contribution(ev.Repo, ev.Project, newSum))
			rows.InsertSets = append(rows.InsertSets, changelog.SetRow{Project: ev.Project, Sum: newSum, Packages: len(newKeys)})
		case len(newKeys) > 0:
			b.state = b.state.Add(b.h.Contribution(ev.Repo, ev.Project, newSum))
			rows.UpdateSets = append(rows.UpdateSets, changelog.SetRow{Project: ev.Project, Sum: newSum, Packages: len(newKeys)})
		default:
			rows.DeleteSets = append(rows.DeleteSets, ev.Project)
		}
		b.packages += len(newKeys) - len(olds)
		if hadOld {
			b.sets--
		}
		if len(newKeys) > 0 {
			b.sets++
		}

		// Table writes: only rows whose key changes, except that a re-stated
		// packageset (invalidated, or re-derived) has all its rows
		// rewritten, as on the leader, so that derived columns are
		// recomputed.
		if b.rederive || ev.Kind == events.KindInvalidated {
			for _, r := range olds {
				rows.DeletePackages = append(rows.DeletePackages, changelog.PackageKey{Project: ev.Project, Key: r.Key})
			}
			for _, k := range newKeys {
				if !b.rederive && cur[k].Name == "" {
					// Only keys were read: an invalidated event re-states
					// the whole packageset, so every row left is one it adds.
					return diverged(ev, "re-stated packageset", "all packages re-stated", "a stored package not re-stated")
				}
				rows.InsertPackages = append(rows.InsertPackages, changelog.PackageRow{Key: k, Package: cur[k]})
			}
			continue
		}
		for _, k := range oldKeys {
			if _, ok := cur[k]; !ok {
				rows.DeletePackages = append(rows.DeletePackages, changelog.PackageKey{Project: ev.Project, Key: k})
			}
		}
		for _, r := range added {
			if _, ok := slices.BinarySearch(oldKeys, r.Key); !ok {
				rows.InsertPackages = append(rows.InsertPackages, r)
			}
		}
	}

	if err := b.st.WriteRows(ctx, rows); err != nil {
		return b.conflict(err)
	}
	if err := b.st.AppendEvents(ctx, b.repoID, evs); err != nil {
		return b.conflict(err)
	}
	// Sent now, so that a row the follower already has is reported as
	// the divergence it is.
	if err := b.st.Flush(ctx); err != nil {
		return b.conflict(err)
	}
	return nil
}

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

// conflict turns a unique violation — a row the leader added that the
// follower already has — into a divergence.
func (b *openBatch) conflict(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
		what := strings.TrimSuffix(pgErr.TableName, "s") // packages, packagesets
		return &DivergenceError{Repo: b.batch.Repo, Seq: b.next - 1, Batch: b.batch.ID,
			What: what + " added by the leader (" + pgErr.Detail + ")", Want: "absent", Got: "present"}
	}
	return fmt.Errorf("follower: %w", err)
}

// commit verifies the state checksums against the leader's batch end and
// commits the batch with the follower's new head.
func (a *applier) commit(ctx context.Context, b *openBatch, last *events.Event) error {
	st, batch := b.st, &b.batch
	if got := b.state.Sum().String(); got != last.BatchEnd.RepoStateChecksum {
		return &DivergenceError{Repo: batch.Repo, Seq: last.Seq, Batch: batch.ID,
			What: "repository state checksum", Want: last.BatchEnd.RepoStateChecksum, Got: got}
	}
	st.SetRepoState(changelog.SetRepoStateParams{RepoID: b.repoID, RepoState: changelog.RepoState{
		State: b.state, Packages: b.packages, Packagesets: b.sets, Buckets: b.buckets,
		Seed: batch.HashSeed, HashVersion: batch.HashVersion, Scheme: batch.VersionScheme}})
	global, err := st.GlobalState(ctx)
	if err != nil {
		return fmt.Errorf("follower: %w", err)
	}
	if got := global.String(); got != last.BatchEnd.GlobalStateChecksum {
		return &DivergenceError{Repo: batch.Repo, Seq: last.Seq, Batch: batch.ID,
			What: "global state checksum (another repository differs)", Want: last.BatchEnd.GlobalStateChecksum, Got: got}
	}
	repoSt, err := hashing.ParseSum(batch.RepoStateChecksum)
	if err != nil {
		return fmt.Errorf("%w: batch %d: %w", ErrBadFeed, batch.ID, err)
	}
	globalSt, err := hashing.ParseSum(batch.GlobalStateChecksum)
	if err != nil {
		return fmt.Errorf("%w: batch %d: %w", ErrBadFeed, batch.ID, err)
	}
	if err := st.InsertBatch(changelog.InsertBatchParams{ID: batch.ID, RepoID: b.repoID, Kind: batch.Kind,
		Files: batch.Files, StartedAt: batch.StartedAt, FinishedAt: batch.FinishedAt, Seed: batch.HashSeed,
		HashVersion: batch.HashVersion, Scheme: batch.VersionScheme, FirstSeq: batch.FirstSeq, LastSeq: batch.LastSeq,
		Counts: batch.Counts, Reason: batch.Reason, Actor: batch.Actor, RepoState: repoSt, GlobalState: globalSt,
		Timings: batch.Timings}); err != nil {
		return fmt.Errorf("follower: %w", err)
	}
	st.SetHead(batch.LastSeq)
	if err := st.Flush(ctx); err != nil {
		return fmt.Errorf("follower: %w", err)
	}
	if err := b.tx.Commit(ctx); err != nil {
		return fmt.Errorf("follower: commit batch %d: %w", batch.ID, err)
	}
	a.cur, a.head = nil, batch.LastSeq
	// As on the leader: large changes leave the planner's statistics
	// behind; refresh them after commit when enough rows changed.
	if _, err := a.stats.Changed(ctx, a.pool, batch.LastSeq-batch.FirstSeq+1); err != nil {
		a.logger.WarnContext(ctx, "follower: analyze failed", "error", err)
	}
	d := time.Since(b.started)
	if a.observe != nil {
		a.observe(d)
	}
	a.logger.DebugContext(ctx, "follower applied batch", "batch", batch.ID, "repo", batch.Repo,
		"events", batch.LastSeq-batch.FirstSeq+1, "head", a.head, "rederive", b.rederive, "duration", d)
	return nil
}
