package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/internal/pg/autoanalyze"
	dlsql "github.com/deltalog/deltalog/sql"
)

// applier applies the changelog into a follower database, one batch per
// transaction. A batch may arrive in several chunks; its transaction stays
// open until the chunk holding its last event (BatchEnd) commits it.
type applier struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	// head is the last seq committed: the follower's position.
	head int64
	cur  *openBatch
	// observe, when set, receives each committed batch's apply duration.
	observe func(time.Duration)
	stats   *autoanalyze.Analyzer
}

// openBatch is a batch whose transaction is open.
type openBatch struct {
	tx       pgx.Tx
	batch    Batch
	scheme   version.Scheme
	repoID   int32
	rederive bool
	h, oldH  *hashing.Hasher
	state    hashing.State
	buckets  changelog.Buckets // the state by bucket (see changelog.Buckets)
	packages int
	sets     int
	next     int64 // the seq expected next
	started  time.Time
}

// storedRow is one package row of the follower.
type storedRow struct {
	key hashing.Sum
	pkg events.Package
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
func (a *applier) apply(ctx context.Context, batch *Batch, evs []events.Event) (committed bool, err error) {
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
func (a *applier) begin(ctx context.Context, batch *Batch, ev *events.Event) error {
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
	scheme := version.Scheme(batch.VersionScheme)
	if !scheme.Valid() {
		return fmt.Errorf("%w: batch %d: unknown version scheme %q", ErrBadFeed, batch.ID, batch.VersionScheme)
	}
	tx, err := a.pool.Begin(ctx)
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
	b := &openBatch{tx: tx, batch: *batch, scheme: scheme, next: ev.Seq, h: hashing.New(batch.HashSeed), started: time.Now()}
	a.cur = b
	var head int64
	if err := tx.QueryRow(ctx, dlsql.Query("replay-head-lock")).Scan(&head); err != nil {
		return fmt.Errorf("follower: locking head: %w", err)
	}
	if head != a.head {
		return fmt.Errorf("%w: the follower's head moved from %d to %d under it", ErrFollowerRunning, a.head, head)
	}
	var (
		state, seed int64
		hashVersion int
		oldScheme   string
		hasInvalid  bool // the leader's concern: re-derivation arrives as events
		buckets     []int64
	)
	err = tx.QueryRow(ctx, dlsql.Query("repo-get"), batch.Repo).
		Scan(&b.repoID, &state, &b.packages, &b.sets, &seed, &hashVersion, &oldScheme, &hasInvalid, &buckets)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if err := tx.QueryRow(ctx, dlsql.Query("repo-create"), batch.Repo, int64(batch.HashSeed), batch.HashVersion, batch.VersionScheme).
			Scan(&b.repoID); err != nil {
			return fmt.Errorf("follower: creating repository %s: %w", batch.Repo, err)
		}
		b.oldH = b.h
		b.buckets = changelog.NewBuckets(batch.Counts.Packagesets)
	case err != nil:
		return fmt.Errorf("follower: reading repository %s: %w", batch.Repo, err)
	default:
		b.state = hashing.State(state)
		b.buckets = changelog.BucketsOf(buckets)
		b.oldH = hashing.New(uint64(seed))
		// A change of seed, algorithm or version scheme re-derives the whole
		// repository on the leader: every row is rewritten and the state
		// rebuilt from the new contributions alone.
		if uint64(seed) != batch.HashSeed || hashVersion != batch.HashVersion || oldScheme != batch.VersionScheme {
			b.rederive, b.state = true, 0
			b.buckets = changelog.NewBuckets(batch.Counts.Packagesets)
		}
	}
	return nil
}

// applyEvents writes a chunk of the open batch: packages, packagesets and
// the events themselves, checking each event against the follower's state.
func (a *applier) applyEvents(ctx context.Context, b *openBatch, evs []events.Event) error {
	tx := b.tx
	// What the follower holds of the touched packagesets. An added one must
	// be absent: the primary keys check that as the rows are inserted, so
	// an initial load reads nothing.
	var projects []string
	for i := range evs {
		if evs[i].Kind != events.KindAdded {
			projects = append(projects, evs[i].Project)
		}
	}
	oldSets := make(map[string]hashing.Sum, len(projects))
	oldRows := map[string][]storedRow{}
	if len(projects) > 0 {
		rows, err := tx.Query(ctx, dlsql.Query("replay-old-packagesets"), b.repoID, projects)
		if err != nil {
			return fmt.Errorf("follower: reading packagesets: %w", err)
		}
		var (
			project string
			sum     int64
		)
		if _, err := pgx.ForEachRow(rows, []any{&project, &sum}, func() error {
			oldSets[project] = hashing.Sum(sum)
			return nil
		}); err != nil {
			return fmt.Errorf("follower: reading packagesets: %w", err)
		}
		if oldRows, err = loadRows(ctx, tx, b.repoID, projects, b.rederive); err != nil {
			return err
		}
	}

	var (
		delProjects []string
		delKeys     []int64
		inserts     []storedRow
		upProjects  []string
		upSums      []int64
		upCounts    []int32
		addProjects []string
		addSums     []int64
		addCounts   []int32
		goneSets    []string
	)
	diverged := func(ev *events.Event, what, want, got string) error {
		return &DivergenceError{Repo: ev.Repo, Project: ev.Project, Seq: ev.Seq, Batch: ev.Batch,
			What: what, Want: want, Got: got}
	}
	for i := range evs {
		ev := &evs[i]
		old, hadOld := oldSets[ev.Project]
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
			oldKeys[j] = olds[j].key
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
			k := olds[j].key
			if b.rederive {
				k = b.h.Package(&olds[j].pkg)
			}
			cur[k] = &olds[j].pkg
		}
		for j := range ev.Removed {
			k := b.h.Package(&ev.Removed[j])
			if _, ok := cur[k]; !ok {
				return diverged(ev, "removed package "+ev.Removed[j].Name+" "+ev.Removed[j].Version, "present", "absent")
			}
			delete(cur, k)
		}
		added := make([]storedRow, 0, len(ev.Added))
		for j := range ev.Added {
			k := b.h.Package(&ev.Added[j])
			if _, ok := cur[k]; ok {
				return diverged(ev, "added package "+ev.Added[j].Name+" "+ev.Added[j].Version, "absent", "present")
			}
			cur[k] = &ev.Added[j]
			added = append(added, storedRow{key: k, pkg: ev.Added[j]})
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

		// State, as the leader keeps it.
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
			addProjects = append(addProjects, ev.Project)
			addSums = append(addSums, newSum.Int64())
			addCounts = append(addCounts, int32(len(newKeys)))
		case len(newKeys) > 0:
			b.state = b.state.Add(b.h.Contribution(ev.Repo, ev.Project, newSum))
			upProjects = append(upProjects, ev.Project)
			upSums = append(upSums, newSum.Int64())
			upCounts = append(upCounts, int32(len(newKeys)))
		default:
			goneSets = append(goneSets, ev.Project)
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
				delProjects, delKeys = append(delProjects, ev.Project), append(delKeys, r.key.Int64())
			}
			for _, k := range newKeys {
				if !b.rederive && cur[k].Name == "" {
					// Only keys were read: an invalidated event re-states
					// the whole packageset, so every row left is one it adds.
					return diverged(ev, "re-stated packageset", "all packages re-stated", "a stored package not re-stated")
				}
				inserts = append(inserts, storedRow{key: k, pkg: *cur[k]})
			}
			continue
		}
		for _, k := range oldKeys {
			if _, ok := cur[k]; !ok {
				delProjects, delKeys = append(delProjects, ev.Project), append(delKeys, k.Int64())
			}
		}
		for _, r := range added {
			if _, ok := slices.BinarySearch(oldKeys, r.key); !ok {
				inserts = append(inserts, r)
			}
		}
	}

	if len(delKeys) > 0 {
		if _, err := tx.Exec(ctx, dlsql.Query("packages-delete"), b.repoID, delProjects, delKeys); err != nil {
			return fmt.Errorf("follower: deleting packages: %w", err)
		}
	}
	if len(inserts) > 0 {
		if err := changelog.CopyPackages(ctx, tx, b.repoID, b.scheme, len(inserts), func(i int) (hashing.Sum, *events.Package) {
			return inserts[i].key, &inserts[i].pkg
		}); err != nil {
			return b.conflict(err, "package")
		}
	}
	if len(goneSets) > 0 {
		if _, err := tx.Exec(ctx, dlsql.Query("packagesets-delete"), b.repoID, goneSets); err != nil {
			return fmt.Errorf("follower: deleting packagesets: %w", err)
		}
	}
	if len(upProjects) > 0 {
		if _, err := tx.Exec(ctx, dlsql.Query("replay-packagesets-upsert"), b.repoID, upProjects, upSums, upCounts); err != nil {
			return fmt.Errorf("follower: writing packagesets: %w", err)
		}
	}
	if len(addProjects) > 0 {
		if _, err := tx.Exec(ctx, dlsql.Query("replay-packagesets-insert"), b.repoID, addProjects, addSums, addCounts); err != nil {
			return b.conflict(err, "packageset")
		}
	}
	return changelog.CopyEvents(ctx, tx, b.repoID, evs)
}

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

// conflict turns a unique violation — a row the leader added that the
// follower already has — into a divergence.
func (b *openBatch) conflict(err error, what string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
		return &DivergenceError{Repo: b.batch.Repo, Seq: b.next - 1, Batch: b.batch.ID,
			What: what + " added by the leader (" + pgErr.Detail + ")", Want: "absent", Got: "present"}
	}
	return fmt.Errorf("follower: writing %ss: %w", what, err)
}

// commit verifies the state checksums against the leader's batch end and
// commits the batch with the follower's new head.
func (a *applier) commit(ctx context.Context, b *openBatch, last *events.Event) error {
	tx, batch := b.tx, &b.batch
	if got := b.state.Sum().String(); got != last.BatchEnd.RepoStateChecksum {
		return &DivergenceError{Repo: batch.Repo, Seq: last.Seq, Batch: batch.ID,
			What: "repository state checksum", Want: last.BatchEnd.RepoStateChecksum, Got: got}
	}
	if _, err := tx.Exec(ctx, dlsql.Query("repo-set-state"), b.repoID, int64(b.state), b.packages, b.sets,
		int64(batch.HashSeed), batch.HashVersion, batch.VersionScheme, b.buckets.Int64s()); err != nil {
		return fmt.Errorf("follower: updating repository state: %w", err)
	}
	var states []int64
	if err := tx.QueryRow(ctx, dlsql.Query("global-state")).Scan(&states); err != nil {
		return fmt.Errorf("follower: reading global state: %w", err)
	}
	var global hashing.State
	for _, s := range states {
		global = global.Add(hashing.Sum(s))
	}
	if got := global.Sum().String(); got != last.BatchEnd.GlobalStateChecksum {
		return &DivergenceError{Repo: batch.Repo, Seq: last.Seq, Batch: batch.ID,
			What: "global state checksum (another repository differs)", Want: last.BatchEnd.GlobalStateChecksum, Got: got}
	}
	files, err := json.Marshal(nonNil(batch.Files))
	if err != nil {
		return err
	}
	counts, err := json.Marshal(batch.Counts)
	if err != nil {
		return err
	}
	repoSt, err := hashing.ParseSum(batch.RepoStateChecksum)
	if err != nil {
		return fmt.Errorf("%w: batch %d: %w", ErrBadFeed, batch.ID, err)
	}
	globalSt, err := hashing.ParseSum(batch.GlobalStateChecksum)
	if err != nil {
		return fmt.Errorf("%w: batch %d: %w", ErrBadFeed, batch.ID, err)
	}
	if _, err := tx.Exec(ctx, dlsql.Query("batch-insert"), batch.ID, b.repoID, batch.Kind, files,
		batch.StartedAt, batch.FinishedAt, int64(batch.HashSeed), batch.HashVersion, batch.VersionScheme,
		batch.FirstSeq, batch.LastSeq,
		counts, nullable(batch.Reason), nullable(batch.Actor), repoSt.Int64(), globalSt.Int64()); err != nil {
		return fmt.Errorf("follower: writing batch %d: %w", batch.ID, err)
	}
	if _, err := tx.Exec(ctx, dlsql.Query("replay-head-set"), batch.LastSeq); err != nil {
		return fmt.Errorf("follower: advancing head: %w", err)
	}
	if _, err := tx.Exec(ctx, dlsql.Query("notify"), batch.LastSeq); err != nil {
		return fmt.Errorf("follower: notify: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
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

// loadRows reads the follower's packages of the given projects: keys only,
// or with content when the batch re-derives keys.
func loadRows(ctx context.Context, tx pgx.Tx, repoID int32, projects []string, full bool) (map[string][]storedRow, error) {
	out := make(map[string][]storedRow, len(projects))
	if !full {
		rows, err := tx.Query(ctx, dlsql.Query("replay-old-keys"), repoID, projects)
		if err != nil {
			return nil, fmt.Errorf("follower: reading packages: %w", err)
		}
		var (
			project string
			key     int64
		)
		_, err = pgx.ForEachRow(rows, []any{&project, &key}, func() error {
			out[project] = append(out[project], storedRow{key: hashing.Sum(key)})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("follower: reading packages: %w", err)
		}
		return out, nil
	}
	rows, err := tx.Query(ctx, dlsql.Query("replay-old-packages"), repoID, projects)
	if err != nil {
		return nil, fmt.Errorf("follower: reading packages: %w", err)
	}
	var (
		key                       int64
		maintainers, links, extra []byte
		p                         events.Package
	)
	_, err = pgx.ForEachRow(rows, []any{&p.Project, &key, &p.Name, &p.Version, &p.Summary, &p.Category,
		&maintainers, &links, &extra}, func() error {
		pkg := p
		pkg.Maintainers, pkg.Links, pkg.Extra = nil, nil, nil
		if err := errors.Join(json.Unmarshal(maintainers, &pkg.Maintainers), json.Unmarshal(links, &pkg.Links),
			json.Unmarshal(extra, &pkg.Extra)); err != nil {
			return fmt.Errorf("package %s/%s: %w", p.Project, p.Name, err)
		}
		pkg.Normalize()
		out[pkg.Project] = append(out[pkg.Project], storedRow{key: hashing.Sum(key), pkg: pkg})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("follower: reading packages: %w", err)
	}
	return out, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
