package projections_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
)

// catalogFixture fills a database with two repositories whose projects share
// maintainers and links, and runs the projections.
func catalogFixture(t *testing.T) *fixture {
	t.Helper()
	f := setup(t)
	f.update(t, "r", version.SchemeGeneric, []events.Package{p("a", "a", "1", "m@x"), p("b", "b", "2", "m@x", "n@x"),
		p("c", "c", "1.0", "o@x")})
	f.update(t, "s", version.SchemeGeneric, []events.Package{p("a", "a", "2", "n@x"), p("b", "b", "2", "o@x")})
	f.update(t, "r", version.SchemeGeneric, []events.Package{p("a", "a", "1", "m@x"), p("b", "b", "3", "m@x", "n@x")})
	require.NoError(t, f.runner.Run(context.Background(), false))
	return f
}

func audit(t *testing.T, f *fixture, opts projections.AuditOpts) *projections.AuditReport {
	t.Helper()
	rep, err := projections.Audit(context.Background(), f.pool, opts)
	require.NoError(t, err)
	return rep
}

// failedChecks returns the checks that found something, as name → [missing, extra, differing].
func failedChecks(checks []projections.Check) map[string][3]int64 {
	out := map[string][3]int64{}
	for _, c := range checks {
		if !c.Clean() {
			out[c.Name] = [3]int64{c.Missing, c.Extra, c.Differing}
		}
	}
	return out
}

func keysOf(t *testing.T, checks []projections.Check, name string) []string {
	t.Helper()
	for _, c := range checks {
		if c.Name == name {
			var out []string
			for _, s := range c.Samples {
				out = append(out, string(s.Key))
			}
			return out
		}
	}
	t.Fatalf("no check %s", name)
	return nil
}

func digest(t *testing.T, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) map[string]string {
	t.Helper()
	d, err := projections.Digest(context.Background(), q)
	require.NoError(t, err)
	return d
}

// TestAuditNamesCorruptedRowsAndRepairs is issue 4's first proof: corrupt
// derived tables and a stored checksum by hand; the audit names exactly
// those rows; the repair rewrites them; a second audit is clean, and the
// tables are back to what they were.
func TestAuditNamesCorruptedRowsAndRepairs(t *testing.T) {
	t.Parallel()
	f := catalogFixture(t)
	ctx := context.Background()
	rep := audit(t, f, projections.AuditOpts{Record: true, Source: "test"})
	require.Equal(t, projections.OutcomeConsistent, rep.Outcome, "%+v", rep.Failed())
	require.Len(t, rep.Checks, 7+1+17+1, "state and changelog, identities, catalog tables, history_versions")
	before := digest(t, f.pool)

	var nID int64
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT id FROM maintainers WHERE email = 'n@x'`).Scan(&nID))
	for _, q := range []string{
		// A derived row deleted.
		`DELETE FROM project_repositories WHERE project = 'a' AND repo_id = 1`,
		// A counter changed.
		`UPDATE maintainers SET num_packages = 99 WHERE email = 'n@x'`,
		// A bogus maintainer, with a bogus binding.
		`INSERT INTO maintainers (id, email, name, num_packages, num_projects, num_repos) OVERRIDING SYSTEM VALUE
		 VALUES (1000, 'bogus@x', 'Bogus', 1, 1, 1)`,
		`INSERT INTO project_maintainers VALUES ('c', 1000, 1, 'Bogus', 1, 1, 0)`,
		// A stored packageset checksum changed.
		`UPDATE packagesets SET checksum = checksum # 1 WHERE project = 'b' AND repo_id = 2`,
	} {
		_, err := f.pool.Exec(ctx, q)
		require.NoError(t, err)
	}

	rep = audit(t, f, projections.AuditOpts{Record: true, Source: "test"})
	require.Equal(t, projections.OutcomeInconsistent, rep.Outcome)
	require.Equal(t, map[string][3]int64{
		"packagesets":                  {0, 0, 1},
		"changelog.replay":             {0, 0, 1},
		"catalog.identities":           {0, 1, 0},
		"catalog.project_repositories": {1, 0, 0},
		"catalog.project_maintainers":  {0, 1, 0},
		"catalog.maintainers":          {0, 0, 2},
	}, failedChecks(rep.Checks))
	for name, keys := range map[string][]string{
		"packagesets":                  {`{"repo": "s", "project": "b"}`},
		"changelog.replay":             {`{"repo": "s", "project": "b"}`},
		"catalog.identities":           {`{"maintainer": "bogus@x"}`},
		"catalog.project_repositories": {`{"project": "a", "repo_id": 1}`},
		"catalog.project_maintainers":  {`{"project": "c", "repo_id": 1, "maintainer_id": 1000}`},
		"catalog.maintainers":          {`{"id": ` + jsonInt(nID) + `}`, `{"id": 1000}`},
	} {
		require.Equal(t, normalizeJSON(t, keys), normalizeJSON(t, keysOf(t, rep.Checks, name)), name)
	}
	// Samples carry the expected and the actual row.
	for _, c := range rep.Checks {
		if c.Name == "catalog.maintainers" {
			for _, s := range c.Samples {
				var exp, act map[string]any
				require.NoError(t, json.Unmarshal(s.Expected, &exp))
				require.NoError(t, json.Unmarshal(s.Actual, &act))
				require.NotEqual(t, exp["num_packages"], act["num_packages"])
			}
		}
	}

	rep = audit(t, f, projections.AuditOpts{Repair: true, Record: true, Source: "test"})
	require.Equal(t, projections.OutcomeRepaired, rep.Outcome, "remaining: %+v", rep.Remaining)
	repaired := map[string]changelog.Repaired{}
	for _, c := range rep.Repairs {
		if c.Repaired != nil {
			repaired[c.Name] = *c.Repaired
		}
	}
	require.Equal(t, map[string]changelog.Repaired{
		"packagesets":                  {Updated: 1},
		"catalog.identities":           {Deleted: 1},
		"catalog.project_repositories": {Inserted: 1},
		"catalog.project_maintainers":  {Deleted: 1},
		"catalog.maintainers":          {Updated: 1},
	}, repaired)

	rep = audit(t, f, projections.AuditOpts{Record: true, Source: "test"})
	require.Equal(t, projections.OutcomeConsistent, rep.Outcome, "%+v", rep.Failed())
	require.Equal(t, before, digest(t, f.pool), "the repair restored exactly what was there")

	last, err := projections.ReadLastAudit(ctx, f.pool)
	require.NoError(t, err)
	require.Equal(t, rep.ID, last.ID)
	require.Equal(t, projections.OutcomeConsistent, last.Outcome)
	require.Equal(t, int64(4), count(t, f.pool, `SELECT count(*) FROM audit_runs`))
	require.Equal(t, int64(1), count(t, f.pool, `SELECT count(*) FROM audit_runs WHERE outcome = 'repaired'`))
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// normalizeJSON re-encodes JSON objects with sorted keys, for comparison.
func normalizeJSON(t *testing.T, in []string) []string {
	t.Helper()
	out := make([]string, len(in))
	for i, s := range in {
		var v any
		require.NoError(t, json.Unmarshal([]byte(s), &v))
		b, err := json.Marshal(v)
		require.NoError(t, err)
		out[i] = string(b)
	}
	return out
}

// TestAuditSkipsLaggingProjections: a projection behind the head is not
// compared (it legitimately differs from the current state); catching up
// first makes the audit complete.
func TestAuditSkipsLaggingProjections(t *testing.T) {
	t.Parallel()
	f := catalogFixture(t)
	f.update(t, "s", version.SchemeGeneric, []events.Package{p("a", "a", "3", "n@x"), p("b", "b", "2", "o@x")})

	rep := audit(t, f, projections.AuditOpts{Projections: []string{projections.CatalogName}})
	require.Equal(t, projections.OutcomeIncomplete, rep.Outcome)
	require.Empty(t, rep.Failed())
	var skipped []string
	for _, c := range rep.Checks {
		if c.Skipped != "" {
			skipped = append(skipped, c.Name)
			require.Contains(t, c.Skipped, "lags 1 events")
		}
	}
	require.Equal(t, []string{"catalog"}, skipped, "history not asked for, state always checked")

	rep = audit(t, f, projections.AuditOpts{CatchUp: true})
	require.Equal(t, projections.OutcomeConsistent, rep.Outcome, "%+v", rep.Failed())
}

// TestAuditReplaysHistory: project_history is not derivable from the current
// state; with ReplayHistory the audit replays the changelog through the
// history projection and compares, and the repair rewrites the entries.
func TestAuditReplaysHistory(t *testing.T) {
	t.Parallel()
	f := catalogFixture(t)
	ctx := context.Background()
	opts := projections.AuditOpts{ReplayHistory: true, Projections: []string{projections.HistoryName}}
	require.Equal(t, projections.OutcomeConsistent, audit(t, f, opts).Outcome)
	before := digest(t, f.pool)
	for _, q := range []string{
		`DELETE FROM project_history WHERE seq = 1`,
		`UPDATE project_history SET new_version = '7' WHERE seq = (SELECT max(seq) FROM project_history)`,
		`INSERT INTO project_history (project, repo_id, seq, batch_id, kind, old_version, new_version, at)
		 SELECT project, repo_id, seq, batch_id, kind, old_version, new_version, at FROM project_history WHERE seq = 2`,
	} {
		_, err := f.pool.Exec(ctx, q)
		require.NoError(t, err)
	}
	rep := audit(t, f, opts)
	require.Equal(t, map[string][3]int64{projections.CheckProjectHistory: {2, 2, 1}}, failedChecks(rep.Checks),
		"seq 1's two entries missing, seq 2's two repeated, one differing")
	opts.Repair = true
	rep = audit(t, f, opts)
	require.Equal(t, projections.OutcomeRepaired, rep.Outcome, "%+v", rep.Remaining)
	require.Equal(t, before, digest(t, f.pool))
}

// TestAuditDoesNotBlock: the audit's snapshot transaction stays open while
// an update commits and a worker applies it; both finish, and the audit
// still sees its own snapshot.
func TestAuditDoesNotBlock(t *testing.T) {
	t.Parallel()
	f := catalogFixture(t)
	ctx := context.Background()
	// The audit's transaction on a pool of its own: Runner.Run leaves its
	// session locks on the connection it hands back to the pool, and the
	// next Run needs that very connection free.
	other, err := pgxpool.New(ctx, f.pool.Config().ConnString())
	require.NoError(t, err)
	defer other.Close()
	tx, err := other.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	state, err := changelog.AuditState(ctx, tx, changelog.AuditParams{})
	require.NoError(t, err)
	diffs, err := projections.Verify(ctx, tx)
	require.NoError(t, err)

	// With the audit's transaction open (and its locks held):
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = f.updater.Update(wctx, updateParams("s", []events.Package{p("a", "a", "3", "n@x"), p("b", "b", "2", "o@x")}))
	require.NoError(t, err)
	require.NoError(t, f.runner.Run(wctx, false))

	again, err := changelog.AuditState(ctx, tx, changelog.AuditParams{})
	require.NoError(t, err)
	for i := range state {
		state[i].Seconds, again[i].Seconds = 0, 0
	}
	require.Equal(t, state, again, "the audit reads one snapshot")
	for _, d := range diffs {
		require.True(t, d.Clean(), "%+v", d)
	}
	require.Equal(t, projections.OutcomeConsistent, audit(t, f, projections.AuditOpts{}).Outcome)
}

func updateParams(repo string, pkgs []events.Package) changelog.UpdateParams {
	return changelog.UpdateParams{Repo: repo, Seed: hashing.DefaultSeed, VersionScheme: version.SchemeGeneric, Force: true,
		Snapshot: hashing.Group(hashing.New(hashing.DefaultSeed), pkgs)}
}
