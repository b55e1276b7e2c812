package changelog_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
)

// packagesetsRead is how many packagesets rows the single backend of pool
// has read so far (sequential and index scans).
func packagesetsRead(t *testing.T, pool *pgxpool.Pool) int64 {
	t.Helper()
	writeCounters(t, pool) // flushes the backend's statistics
	var n int64
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)
		FROM pg_stat_user_tables WHERE relname = 'packagesets'`).Scan(&n))
	return n
}

func singleBackend(t *testing.T) (*pgxpool.Pool, *changelog.Updater) {
	t.Helper()
	pool := dbtest.NewSingle(t)
	u, err := changelog.NewUpdater(pool, changelog.Config{})
	require.NoError(t, err)
	return pool, u
}

// TestBucketedDiffReadsOnlyDifferingBuckets: a change of a few packagesets
// in a repository of 20,000 reads the stored checksums of the buckets whose
// state differs — a few dozen rows, not 20,000 — and still finds every
// change: the state equals a fresh ingest's, and the audit (which
// recomputes the bucket states) is clean. An invalidated packageset in an
// unchanged bucket is re-stated all the same.
func TestBucketedDiffReadsOnlyDifferingBuckets(t *testing.T) {
	t.Parallel()
	pool, u := singleBackend(t)
	const n = 20000
	var pkgs []events.Package
	for i := range n {
		p := fmt.Sprintf("p%05d", i)
		pkgs = append(pkgs, pkg(p, p, "1.0"))
	}
	first := apply(t, u, "r", pkgs)
	require.Equal(t, n, first.Counts.Added)
	require.Empty(t, dirty(auditState(t, pool, nil)))

	// Three change, one goes, one arrives.
	next := append([]events.Package(nil), pkgs[1:]...)
	next[10].Version, next[5000].Version, next[12345].Version = "2.0", "2.0", "2.0"
	next = append(next, pkg("new", "new", "1.0"))
	before := packagesetsRead(t, pool)
	res := apply(t, u, "r", next)
	read := packagesetsRead(t, pool) - before
	require.Equal(t, events.Counts{Packages: n, Packagesets: n, Added: 1, Changed: 3, Removed: 1, Unchanged: n - 4, Events: 5}, res.Counts)
	require.Positive(t, read)
	require.Less(t, read, int64(n/100), "read %d of %d packagesets", read, n)
	t.Logf("a change of 5 packagesets read %d of %d stored packagesets", read, n)

	checks := auditState(t, pool, nil)
	require.Empty(t, dirty(checks))
	require.Equal(t, int64(1), checks[changelog.CheckBuckets].Compared)
	freshPool, fresh := setup(t)
	want := apply(t, fresh, "r", next)
	require.Equal(t, want.RepoStateChecksum, res.RepoStateChecksum)
	require.Equal(t, coreDigest(t, freshPool), coreDigest(t, pool))
	var stored, fromFresh []int64
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT bucket_states FROM repos").Scan(&stored))
	require.NoError(t, freshPool.QueryRow(context.Background(), "SELECT bucket_states FROM repos").Scan(&fromFresh))
	require.Equal(t, fromFresh, stored, "bucket states kept by delta equal a fresh ingest's")

	_, err := changelog.Invalidate(context.Background(), pool, changelog.InvalidateParams{Repo: "r", Project: "p07777", Reason: "test"})
	require.NoError(t, err)
	before = packagesetsRead(t, pool)
	res = apply(t, u, "r", next)
	read = packagesetsRead(t, pool) - before
	require.Equal(t, 1, res.Counts.Invalidated)
	require.Equal(t, 1, res.Counts.Events)
	require.Less(t, read, int64(n/100))
	require.Empty(t, dirty(auditState(t, pool, nil)))
}

// TestAuditFindsAndRepairsBucketStates: a stored bucket state that is not
// the sum of its packagesets' contributions is reported by repos.buckets
// and repaired.
func TestAuditFindsAndRepairsBucketStates(t *testing.T) {
	t.Parallel()
	pool, u := setup(t)
	var pkgs []events.Package
	for i := range 100 {
		p := fmt.Sprintf("p%03d", i)
		pkgs = append(pkgs, pkg(p, p, "1"))
	}
	apply(t, u, "r", pkgs)
	_, err := pool.Exec(context.Background(), "UPDATE repos SET bucket_states[2] = bucket_states[2] + 1")
	require.NoError(t, err)
	checks := auditState(t, pool, nil)
	require.Equal(t, map[string][3]int64{changelog.CheckBuckets: {0, 0, 1}}, dirty(checks))
	require.Equal(t, []map[string]any{{"repo": "r", "groups": float64(16), "group": float64(1), "differing": float64(1)}},
		sampleKeys(t, checks[changelog.CheckBuckets]))
	repaired := repair(t, pool)
	require.Equal(t, &changelog.Repaired{Updated: 1}, repaired[changelog.CheckBuckets].Repaired)
	require.Empty(t, dirty(auditState(t, pool, nil)))
}
