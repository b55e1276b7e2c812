package changelog_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
)

func setup(t *testing.T) (*pgxpool.Pool, *changelog.Updater) {
	t.Helper()
	pool := dbtest.New(t)
	u, err := changelog.NewUpdater(pool, changelog.Config{})
	require.NoError(t, err)
	return pool, u
}

func pkg(project, name, version string) events.Package {
	return events.Package{
		Project: project, Name: name, Version: version,
		Maintainers: []events.Maintainer{{Email: project + "@example.org", Name: "M " + project}},
		Links:       []events.Link{{Kind: "homepage", URL: "https://example.org/" + project}},
	}
}

func apply(t *testing.T, u *changelog.Updater, repo string, pkgs []events.Package, opts ...func(*changelog.UpdateParams)) *changelog.UpdateResult {
	t.Helper()
	p := changelog.UpdateParams{
		Repo: repo, Seed: hashing.DefaultSeed,
		Snapshot: hashing.Group(hashing.New(hashing.DefaultSeed), pkgs),
	}
	for _, o := range opts {
		o(&p)
	}
	res, err := u.Update(context.Background(), p)
	require.NoError(t, err)
	return res
}

func readAll(t *testing.T, q changelog.Querier) []events.Event {
	t.Helper()
	page, err := changelog.ReadPage(context.Background(), q, changelog.PageParams{})
	require.NoError(t, err)
	return page.Events
}

func TestUpdateEmitsPackageLevelDeltas(t *testing.T) {
	t.Parallel()
	pool, u := setup(t)

	a1, b1, b2, c1 := pkg("a", "a", "1.0"), pkg("b", "b", "1.0"), pkg("b", "b-doc", "1.0"), pkg("c", "c", "1.0")
	res := apply(t, u, "r", []events.Package{a1, b1, b2, c1})
	require.Equal(t, 3, res.Counts.Added)
	require.Equal(t, int64(3), res.HeadSeq)

	// b changes one of its two packages, c goes, d arrives, a stays.
	b1v2 := pkg("b", "b", "2.0")
	d1 := pkg("d", "d", "0.1")
	res = apply(t, u, "r", []events.Package{a1, b1v2, b2, d1})
	require.Equal(t, events.Counts{Packages: 4, Packagesets: 3, Added: 1, Changed: 1, Removed: 1, Unchanged: 1, Events: 3}, res.Counts)
	require.Equal(t, int64(4), res.FirstSeq)
	require.Equal(t, int64(6), res.HeadSeq)

	evs := readAll(t, pool)
	require.Len(t, evs, 6)
	for i, ev := range evs {
		require.Equal(t, int64(i+1), ev.Seq, "seq values are dense")
	}
	b, c, d := evs[3], evs[4], evs[5]
	require.Equal(t, "b", b.Project)
	require.Equal(t, events.KindChanged, b.Kind)
	// Only the package whose checksum changed is in the event: b-doc is not.
	require.Equal(t, []events.Package{b1}, b.Removed)
	require.Equal(t, []events.Package{b1v2}, b.Added)
	require.NotEqual(t, b.OldChecksum, b.NewChecksum)
	require.Equal(t, events.KindRemoved, c.Kind)
	require.Equal(t, []events.Package{c1}, c.Removed)
	require.Empty(t, c.NewChecksum)
	require.Equal(t, events.KindAdded, d.Kind)
	require.Empty(t, d.OldChecksum)

	// The last event of each batch carries the state after it.
	require.Nil(t, evs[3].BatchEnd)
	require.NotNil(t, evs[2].BatchEnd)
	require.Equal(t, res.RepoStateChecksum.String(), d.BatchEnd.RepoStateChecksum)
	require.Equal(t, res.GlobalStateChecksum.String(), d.BatchEnd.GlobalStateChecksum)
}

// TestRepeatedUpdateWritesNoRow is invariant 1: a repeated update of the same
// snapshot inserts, updates and deletes zero rows, measured by PostgreSQL's
// own table statistics.
func TestRepeatedUpdateWritesNoRow(t *testing.T) {
	t.Parallel()
	pool, u := singleBackend(t) // one backend, so that we can flush its statistics

	var pkgs []events.Package
	for i := range 200 {
		pkgs = append(pkgs, pkg(fmt.Sprintf("p%03d", i), fmt.Sprintf("p%03d", i), "1.0"))
	}
	first := apply(t, u, "r", pkgs)
	require.Equal(t, 200, first.Counts.Events)

	before := writeCounters(t, pool)
	again := apply(t, u, "r", pkgs)
	require.Zero(t, again.Batch)
	require.Zero(t, again.Counts.Events)
	require.Equal(t, 200, again.Counts.Unchanged)
	require.Equal(t, first.HeadSeq, again.HeadSeq)
	require.Equal(t, first.GlobalStateChecksum, again.GlobalStateChecksum)
	after := writeCounters(t, pool)
	require.Equal(t, before, after, "a repeated update wrote rows")

	// The counters do see writes: a real change moves them.
	pkgs[0].Version = "2.0"
	apply(t, u, "r", pkgs)
	require.NotEqual(t, after, writeCounters(t, pool))
}

// writeCounters returns n_tup_ins+upd+del per table after making the single
// backend flush its pending statistics.
func writeCounters(t *testing.T, pool *pgxpool.Pool) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, "SELECT pg_stat_force_next_flush()")
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "SELECT 1") // the flush happens when the backend goes idle
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "SELECT pg_stat_clear_snapshot()")
	require.NoError(t, err)
	rows, err := pool.Query(ctx, `SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables`)
	require.NoError(t, err)
	out := map[string]int64{}
	var name string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&name, &n}, func() error { out[name] = n; return nil })
	require.NoError(t, err)
	require.Contains(t, out, "changelog")
	return out
}

func TestStateChecksumConverges(t *testing.T) {
	t.Parallel()
	poolAB, uAB := setup(t)
	poolB, uB := setup(t)

	a := []events.Package{pkg("x", "x", "1"), pkg("y", "y", "1"), pkg("z", "z", "1")}
	b := []events.Package{pkg("x", "x", "2"), pkg("y", "y", "1"), pkg("w", "w", "1")}
	apply(t, uAB, "r", a, force)
	resAB := apply(t, uAB, "r", b, force)
	resB := apply(t, uB, "r", b, force)
	require.Equal(t, resB.RepoStateChecksum, resAB.RepoStateChecksum)
	require.Equal(t, resB.GlobalStateChecksum, resAB.GlobalStateChecksum)
	require.Equal(t, coreDigest(t, poolB), coreDigest(t, poolAB))
}

func force(p *changelog.UpdateParams) { p.Force = true }

// coreDigest summarizes the current-state tables by content (ids mapped to
// names), for comparing two databases.
func coreDigest(t *testing.T, q changelog.Querier) map[string]string {
	t.Helper()
	out := map[string]string{}
	queries := map[string]string{
		"packages": `SELECT coalesce(md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s', r.name, p.project, p.checksum,
			p.name, p.version, encode(p.version_key, 'hex'), p.summary, p.category, p.maintainers, p.links, p.extra), E'\n'
			ORDER BY r.name, p.project, p.checksum)), '') FROM packages p JOIN repos r ON r.id = p.repo_id`,
		"packagesets": `SELECT coalesce(md5(string_agg(format('%s|%s|%s|%s|%s', r.name, s.project, s.checksum, s.num_packages, s.invalid),
			E'\n' ORDER BY r.name, s.project)), '') FROM packagesets s JOIN repos r ON r.id = s.repo_id`,
		"repos": `SELECT coalesce(md5(string_agg(format('%s|%s|%s|%s', name, state_checksum, num_packages, num_packagesets),
			E'\n' ORDER BY name)), '') FROM repos`,
	}
	for name, q2 := range queries {
		var d string
		require.NoError(t, q.QueryRow(context.Background(), q2).Scan(&d))
		out[name] = d
	}
	return out
}

func TestSuspiciousSnapshotRefused(t *testing.T) {
	t.Parallel()
	pool, u := setup(t)
	var pkgs []events.Package
	for i := range 10 {
		pkgs = append(pkgs, pkg(fmt.Sprintf("p%d", i), fmt.Sprintf("p%d", i), "1"))
	}
	apply(t, u, "r", pkgs)
	before := coreDigest(t, pool)

	for _, snap := range [][]events.Package{nil, pkgs[:4]} {
		_, err := u.Update(context.Background(), changelog.UpdateParams{
			Repo: "r", Seed: hashing.DefaultSeed, Snapshot: hashing.Group(hashing.New(hashing.DefaultSeed), snap),
		})
		require.ErrorIs(t, err, changelog.ErrSuspiciousSnapshot)
		require.Equal(t, before, coreDigest(t, pool))
	}
	// Half is allowed; less with force is applied.
	apply(t, u, "r", pkgs[:5])
	res := apply(t, u, "r", pkgs[:1], force)
	require.Equal(t, 4, res.Counts.Removed)
}

// TestSeedChangeRederives: a new seed re-states every packageset as
// invalidated (content unchanged), and the state matches a fresh ingest
// with the new seed.
func TestSeedChangeRederives(t *testing.T) {
	t.Parallel()
	pool, u := setup(t)
	freshPool, fresh := setup(t)
	pkgs := []events.Package{pkg("a", "a", "1"), pkg("b", "b", "1"), pkg("b", "b2", "1")}
	apply(t, u, "r", pkgs)

	newSeed := func(p *changelog.UpdateParams) {
		p.Seed = 42
		p.Snapshot = hashing.Group(hashing.New(42), pkgs)
	}
	res := apply(t, u, "r", pkgs, newSeed)
	require.Equal(t, 2, res.Counts.Invalidated)
	require.Equal(t, 2, res.Counts.Events)
	evs := readAll(t, pool)[2:]
	for _, ev := range evs {
		require.Equal(t, events.KindInvalidated, ev.Kind)
		require.Equal(t, len(ev.Removed), len(ev.Added), "full content re-stated")
	}
	want := apply(t, fresh, "r", pkgs, newSeed)
	require.Equal(t, want.RepoStateChecksum, res.RepoStateChecksum)
	require.Equal(t, coreDigest(t, freshPool), coreDigest(t, pool))

	// And with the new seed, the same snapshot is now unchanged.
	again := apply(t, u, "r", pkgs, newSeed)
	require.Zero(t, again.Batch)
}

// TestAppendsAreGapFree is invariant 4. Writer A holds its append open (the
// head row lock taken, events inserted, not committed); writer B, on another
// repository, commits later. A reader must never see B's events before A's:
// B waits for A, and what a reader sees is always a dense prefix of seqs.
func TestAppendsAreGapFree(t *testing.T) {
	t.Parallel()
	pool, u := setup(t)
	ctx := context.Background()
	apply(t, u, "base", []events.Package{pkg("a", "a", "1")})

	// Writer A: a transaction that allocated seq 2 and inserted its event.
	txA, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer txA.Rollback(ctx) //nolint:errcheck
	var headA int64
	require.NoError(t, txA.QueryRow(ctx, `UPDATE changelog_head SET seq = seq + 1 RETURNING seq`).Scan(&headA))
	require.Equal(t, int64(2), headA)
	_, err = txA.Exec(ctx, `INSERT INTO changelog (seq, batch_id, repo_id, project, kind) VALUES ($1, 0, 1, 'held', 'added')`, headA)
	require.NoError(t, err)

	// Writer B commits an update of another repository meanwhile.
	done := make(chan *changelog.UpdateResult, 1)
	go func() {
		res, err := u.Update(ctx, changelog.UpdateParams{Repo: "other", Seed: hashing.DefaultSeed,
			Snapshot: hashing.Group(hashing.New(hashing.DefaultSeed), []events.Package{pkg("b", "b", "1")})})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()

	// B must be waiting on A: a reader sees neither A's seq 2 nor B's seq 3.
	// Check repeatedly while B is blocked; B cannot have committed.
	for range 20 {
		select {
		case <-done:
			t.Fatal("writer B committed while writer A held the append")
		case <-time.After(25 * time.Millisecond):
		}
		evs := readAll(t, pool)
		require.Len(t, evs, 1)
		head, err := changelog.Head(ctx, pool)
		require.NoError(t, err)
		require.Equal(t, int64(1), head)
	}

	require.NoError(t, txA.Commit(ctx))
	res := <-done
	require.NotNil(t, res)
	require.Equal(t, int64(3), res.FirstSeq, "B's seqs come after A's")
	evs := readAll(t, pool)
	require.Len(t, evs, 3)
	for i, ev := range evs {
		require.Equal(t, int64(i+1), ev.Seq)
	}
	require.Equal(t, "held", evs[1].Project)
}

// TestRolledBackAppendLeavesNoHole: seq values come from the head row, not a
// sequence, so an aborted update returns its range.
func TestRolledBackAppendLeavesNoHole(t *testing.T) {
	t.Parallel()
	pool, u := setup(t)
	ctx := context.Background()
	apply(t, u, "r", []events.Package{pkg("a", "a", "1")})

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE changelog_head SET seq = seq + 5`)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))

	res := apply(t, u, "r", []events.Package{pkg("a", "a", "2")})
	require.Equal(t, int64(2), res.FirstSeq)
}

// TestConcurrentUpdatesRecordTheGlobalState: updates of several
// repositories at once each record the global state as of their own
// commit — the other repositories' states read under the append lock —
// so that, in seq order, every batch's global state checksum is the sum of
// the repository states the batches before it and it left.
func TestConcurrentUpdatesRecordTheGlobalState(t *testing.T) {
	t.Parallel()
	pool, u := setup(t)
	ctx := context.Background()
	const repos, rounds = 4, 6
	errs := make(chan error, repos)
	for r := range repos {
		go func() {
			var err error
			for i := range rounds {
				var pkgs []events.Package
				for j := range 3 + i {
					pkgs = append(pkgs, pkg(fmt.Sprintf("p%d", j), fmt.Sprintf("p%d-r%d", j, r), fmt.Sprint(i)))
				}
				if _, err = u.Update(ctx, changelog.UpdateParams{Repo: fmt.Sprintf("r%d", r), Seed: hashing.DefaultSeed,
					Snapshot: hashing.Group(hashing.New(hashing.DefaultSeed), pkgs), Force: true}); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range repos {
		require.NoError(t, <-errs)
	}

	rows, err := pool.Query(ctx, `SELECT repo_id, repo_state_checksum, global_state_checksum FROM batches ORDER BY last_seq`)
	require.NoError(t, err)
	type batch struct{ Repo, State, Global int64 }
	batches, err := pgx.CollectRows(rows, pgx.RowToStructByPos[batch])
	require.NoError(t, err)
	require.Len(t, batches, repos*rounds)
	states := map[int64]hashing.Sum{}
	for i, b := range batches {
		states[b.Repo] = hashing.Sum(b.State)
		var g hashing.State
		for _, s := range states {
			g = g.Add(s)
		}
		require.Equal(t, g.Sum(), hashing.Sum(b.Global), "batch %d of %d in seq order", i+1, len(batches))
	}
}
