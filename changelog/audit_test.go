package changelog_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
)

// auditState runs AuditState in a REPEATABLE READ transaction and returns
// the checks by name.
func auditState(t *testing.T, pool *pgxpool.Pool, checkpoints map[string]int64) map[string]changelog.Check {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	checks, err := changelog.AuditState(ctx, tx, changelog.AuditParams{Checkpoints: checkpoints})
	require.NoError(t, err)
	out := map[string]changelog.Check{}
	for _, c := range checks {
		out[c.Name] = c
	}
	require.Len(t, out, 7, "every check reported once")
	return out
}

// dirty returns the checks that found something, as name → [missing, extra, differing].
func dirty(checks map[string]changelog.Check) map[string][3]int64 {
	out := map[string][3]int64{}
	for name, c := range checks {
		if !c.Clean() {
			out[name] = [3]int64{c.Missing, c.Extra, c.Differing}
		}
	}
	return out
}

func sampleKeys(t *testing.T, c changelog.Check) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, s := range c.Samples {
		var k map[string]any
		require.NoError(t, json.Unmarshal(s.Key, &k))
		out = append(out, k)
	}
	return out
}

func repair(t *testing.T, pool *pgxpool.Pool) map[string]changelog.Check {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	require.NoError(t, changelog.LockForRepair(ctx, tx))
	checks, err := changelog.RepairState(ctx, tx, changelog.AuditParams{})
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	out := map[string]changelog.Check{}
	for _, c := range checks {
		out[c.Name] = c
	}
	return out
}

func threeRepos(t *testing.T, u *changelog.Updater) {
	t.Helper()
	apply(t, u, "r1", []events.Package{pkg("a", "a", "1"), pkg("b", "b", "1"), pkg("b", "b-doc", "1"), pkg("c", "c", "1")})
	apply(t, u, "r2", []events.Package{pkg("a", "a", "2"), pkg("d", "d", "1")})
	// b changes, c goes, e arrives.
	apply(t, u, "r1", []events.Package{pkg("a", "a", "1"), pkg("b", "b", "2"), pkg("b", "b-doc", "1"), pkg("e", "e", "1")})
}

func TestAuditStateCleanAfterUpdates(t *testing.T) {
	t.Parallel()
	pool, u := setup(t)
	threeRepos(t, u)
	checks := auditState(t, pool, map[string]int64{"catalog": 3, "history": 8})
	require.Empty(t, dirty(checks))
	require.Equal(t, int64(6), checks[changelog.CheckPackages].Compared)
	require.Equal(t, int64(5), checks[changelog.CheckPackagesets].Compared)
	require.Equal(t, int64(3), checks[changelog.CheckRepos].Compared, "two repositories and the global state")
	require.Equal(t, int64(8), checks[changelog.CheckSequence].Compared)
	require.Equal(t, int64(8), checks[changelog.CheckChain].Compared)
	require.Equal(t, int64(5), checks[changelog.CheckReplay].Compared)
}

// TestAuditStateNamesCorruptedRows corrupts the current state by hand, one
// row per kind of damage, and requires the audit to name exactly those rows,
// the repair to fix them, and a second audit to be clean.
func TestAuditStateNamesCorruptedRows(t *testing.T) {
	t.Parallel()
	pool, u := setup(t)
	ctx := context.Background()
	threeRepos(t, u)
	for _, q := range []string{
		// A stored packageset checksum changed.
		`UPDATE packagesets SET checksum = checksum + 1 WHERE project = 'b'`,
		// A repository's state checksum changed.
		`UPDATE repos SET state_checksum = 42 WHERE name = 'r2'`,
		// A packageset row lost.
		`DELETE FROM packagesets WHERE project = 'd'`,
		// A package's content changed behind its checksum.
		`UPDATE packages SET version = '9' WHERE project = 'e'`,
	} {
		_, err := pool.Exec(ctx, q)
		require.NoError(t, err)
	}

	checks := auditState(t, pool, nil)
	require.Equal(t, map[string][3]int64{
		changelog.CheckPackages:    {0, 0, 1},
		changelog.CheckPackagesets: {1, 0, 1},
		changelog.CheckRepos:       {0, 0, 1},
		// The replay of the changelog ends at b's true checksum, and at d.
		changelog.CheckReplay: {1, 0, 1},
	}, dirty(checks))
	require.Equal(t, []map[string]any{{"repo": "r1", "project": "e", "name": "e", "version": "9", "checksum": hashSum(t, pkg("e", "e", "1"))}},
		sampleKeys(t, checks[changelog.CheckPackages]))
	require.ElementsMatch(t, []map[string]any{{"repo": "r1", "project": "b"}, {"repo": "r2", "project": "d"}},
		sampleKeys(t, checks[changelog.CheckPackagesets]))
	require.Equal(t, []map[string]any{{"repo": "r2"}}, sampleKeys(t, checks[changelog.CheckRepos]))

	repaired := repair(t, pool)
	require.Equal(t, &changelog.Repaired{Inserted: 1, Updated: 1}, repaired[changelog.CheckPackagesets].Repaired)
	require.Equal(t, &changelog.Repaired{Updated: 1}, repaired[changelog.CheckRepos].Repaired)
	require.Equal(t, &changelog.Repaired{Invalidated: 1}, repaired[changelog.CheckPackages].Repaired)

	checks = auditState(t, pool, nil)
	// The altered package cannot be restored from the database: its
	// packageset waits for the next update, which re-states it.
	require.Empty(t, dirty(checks))
	require.Contains(t, checks[changelog.CheckPackages].Note, "1 packages of invalidated packagesets")
	res := apply(t, u, "r1", []events.Package{pkg("a", "a", "1"), pkg("b", "b", "2"), pkg("b", "b-doc", "1"), pkg("e", "e", "1")})
	require.Equal(t, 1, res.Counts.Events)
	checks = auditState(t, pool, nil)
	require.Empty(t, dirty(checks))
	require.Empty(t, checks[changelog.CheckPackages].Note)
}

func hashSum(t *testing.T, p events.Package) string {
	t.Helper()
	return hashing.New(hashing.DefaultSeed).Package(&p).String()
}

func TestAuditStateFindsChangelogHoles(t *testing.T) {
	t.Parallel()
	pool, u := setup(t)
	ctx := context.Background()
	threeRepos(t, u)
	// Seq 2 (b added to r1) and seq 7 (c removed from r1) vanish.
	_, err := pool.Exec(ctx, `DELETE FROM changelog WHERE seq IN (2, 7)`)
	require.NoError(t, err)
	checks := auditState(t, pool, map[string]int64{"catalog": 1, "history": 5})
	seq := checks[changelog.CheckSequence]
	require.Equal(t, int64(2), seq.Missing)
	// history's checkpoint 5 is above a hole, catalog's 1 is not; batches 1
	// and 3 lost an event each.
	require.Equal(t, int64(3), seq.Differing)
	var holes []string
	for _, k := range sampleKeys(t, seq) {
		if h, ok := k["hole"]; ok {
			holes = append(holes, h.(string))
		}
	}
	require.Equal(t, []string{"2..2", "7..7"}, holes)
	// b's chain now starts with a change; the replay still has c, which the
	// state no longer has.
	require.Equal(t, map[string][3]int64{
		changelog.CheckSequence: {2, 0, 3},
		changelog.CheckChain:    {0, 0, 1},
		changelog.CheckReplay:   {1, 0, 0},
	}, dirty(checks))
	require.Equal(t, []map[string]any{{"seq": float64(6), "repo": "r1", "project": "b"}}, sampleKeys(t, checks[changelog.CheckChain]))
	require.Equal(t, []map[string]any{{"repo": "r1", "project": "c"}}, sampleKeys(t, checks[changelog.CheckReplay]))
}
