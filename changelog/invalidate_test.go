package changelog_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
)

func TestInvalidateRepoReStatesOnlyThatRepository(t *testing.T) {
	t.Parallel()
	pool, u := setup(t)
	ctx := context.Background()
	threeRepos(t, u)
	r1 := []events.Package{pkg("a", "a", "1"), pkg("b", "b", "2"), pkg("b", "b-doc", "1"), pkg("e", "e", "1")}
	r2 := []events.Package{pkg("a", "a", "2"), pkg("d", "d", "1")}

	res, err := changelog.Invalidate(ctx, pool, changelog.InvalidateParams{Repo: "r1", Reason: "new column", Actor: "alice"})
	require.NoError(t, err)
	require.Equal(t, []changelog.InvalidatedRepo{{Repo: "r1", ID: res.Repos[0].ID, Packagesets: 3, Marked: 3}}, res.Repos)
	require.Equal(t, int64(8), head(t, pool), "invalidation appends nothing itself")
	pending, err := changelog.ReadPendingInvalidations(ctx, pool)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, "r1", pending[0].Repo)

	// The other repository's update is unaffected.
	require.Zero(t, apply(t, u, "r2", r2).Counts.Events)
	got := apply(t, u, "r1", r1)
	require.Equal(t, events.Counts{Packages: 4, Packagesets: 3, Invalidated: 3, Events: 3}, got.Counts)
	page, err := changelog.ReadPage(ctx, pool, changelog.PageParams{After: 8, Limit: 100})
	require.NoError(t, err)
	evs := page.Events
	require.Len(t, evs, 3)
	for _, ev := range evs {
		require.Equal(t, "r1", ev.Repo)
		require.Equal(t, events.KindInvalidated, ev.Kind)
		require.Equal(t, ev.OldChecksum, ev.NewChecksum, "content did not change")
		require.NotEmpty(t, ev.Added, "the full content is re-stated")
		require.Len(t, ev.Removed, len(ev.Added))
	}
	var kind, reason, actor string
	require.NoError(t, pool.QueryRow(ctx, `SELECT kind, reason, actor FROM batches WHERE id = $1`, got.Batch).Scan(&kind, &reason, &actor))
	require.Equal(t, "invalidate", kind)
	require.Contains(t, reason, "invalidate --repo r1")
	require.Contains(t, reason, ": new column")
	require.Equal(t, "alice", actor)
	var claimed int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT batch_id FROM invalidations WHERE id = $1`, res.Repos[0].ID).Scan(&claimed))
	require.Equal(t, got.Batch, claimed)

	// Done: the next update of the same snapshot writes nothing.
	require.Zero(t, apply(t, u, "r1", r1).Counts.Events)
	require.Equal(t, got.RepoStateChecksum, apply(t, u, "r1", r1).RepoStateChecksum, "state unchanged")
	checks := auditState(t, pool, nil)
	require.Empty(t, dirty(checks))
}

func TestInvalidateScopes(t *testing.T) {
	t.Parallel()
	pool, u := setup(t)
	ctx := context.Background()
	threeRepos(t, u)

	// A project across repositories.
	res, err := changelog.Invalidate(ctx, pool, changelog.InvalidateParams{Project: "a"})
	require.NoError(t, err)
	require.Equal(t, "project", res.Scope)
	require.Equal(t, 2, res.Packagesets)
	require.Equal(t, changelog.Actor(), res.Actor)
	// One packageset; a second invalidation of an invalid one marks nothing new.
	res, err = changelog.Invalidate(ctx, pool, changelog.InvalidateParams{Repo: "r1", Project: "a"})
	require.NoError(t, err)
	require.Equal(t, []changelog.InvalidatedRepo{{Repo: "r1", ID: res.Repos[0].ID, Packagesets: 1, Marked: 0}}, res.Repos)
	var invalid []string
	rows, err := pool.Query(ctx, `SELECT r.name || '/' || s.project FROM packagesets s JOIN repos r ON r.id = s.repo_id WHERE invalid ORDER BY 1`)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		invalid = append(invalid, s)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"r1/a", "r2/a"}, invalid)

	// Nothing in scope is an error, and so is an unclear scope.
	_, err = changelog.Invalidate(ctx, pool, changelog.InvalidateParams{Project: "nope"})
	require.ErrorIs(t, err, changelog.ErrNothingToInvalidate)
	_, err = changelog.Invalidate(ctx, pool, changelog.InvalidateParams{Repo: "nope"})
	require.ErrorIs(t, err, changelog.ErrNothingToInvalidate)
	_, err = changelog.Invalidate(ctx, pool, changelog.InvalidateParams{})
	require.Error(t, err)
	_, err = changelog.Invalidate(ctx, pool, changelog.InvalidateParams{All: true, Repo: "r1"})
	require.Error(t, err)

	// Everything.
	res, err = changelog.Invalidate(ctx, pool, changelog.InvalidateParams{All: true, Reason: "fixed version order"})
	require.NoError(t, err)
	require.Equal(t, 5, res.Packagesets)
	require.Len(t, res.Repos, 2)
	got := apply(t, u, "r2", []events.Package{pkg("a", "a", "2"), pkg("d", "d", "1")})
	require.Equal(t, 2, got.Counts.Invalidated)
	var reason string
	require.NoError(t, pool.QueryRow(ctx, `SELECT reason FROM batches WHERE id = $1`, got.Batch).Scan(&reason))
	require.Contains(t, reason, "invalidate --project a")
	require.Contains(t, reason, "invalidate --all")
}

// TestSeedChangeRecordsWhy: a change of hash seed re-derives the repository
// (already done by the update) and the batch says why.
func TestSeedChangeRecordsWhy(t *testing.T) {
	t.Parallel()
	pool, u := setup(t)
	ctx := context.Background()
	pkgs := []events.Package{pkg("a", "a", "1"), pkg("b", "b", "1")}
	apply(t, u, "r", pkgs)
	const seed = 7
	got := apply(t, u, "r", pkgs, func(p *changelog.UpdateParams) {
		p.Seed = seed
		p.Snapshot = hashing.Group(hashing.New(seed), pkgs)
	})
	require.Equal(t, 2, got.Counts.Invalidated)
	var kind, reason string
	require.NoError(t, pool.QueryRow(ctx, `SELECT kind, reason FROM batches WHERE id = $1`, got.Batch).Scan(&kind, &reason))
	require.Equal(t, "invalidate", kind)
	require.Equal(t, "re-derived: hash seed 0x64656c74616c6f67 → 0x7", reason)
	require.Empty(t, dirty(auditState(t, pool, nil)))
}

func head(t *testing.T, q changelog.Querier) int64 {
	t.Helper()
	h, err := changelog.Head(context.Background(), q)
	require.NoError(t, err)
	return h
}
