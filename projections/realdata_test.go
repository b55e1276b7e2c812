package projections_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/internal/ingest"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/projections"
)

// shared returns the files matching each pattern under ../shared/data,
// skipping the test when the data is absent.
func shared(t testing.TB, patterns ...string) []string {
	t.Helper()
	var out []string
	for _, p := range patterns {
		m, _ := filepath.Glob(filepath.Join("..", "..", "shared", "data", p))
		if len(m) != 1 {
			t.Skipf("shared data not found: %s", p)
		}
		out = append(out, m[0])
	}
	return out
}

// TestRealSequenceStaysConsistent is issue 3's main proof: after every step
// of a sequence of real updates, every derived table equals a from-scratch
// computation over the current packages. The PyPI step (886k packages) runs
// unless DELTALOG_SHORT is set.
func TestRealSequenceStaysConsistent(t *testing.T) {
	t.Parallel()
	f := setupPaged(t, 20000)
	ctx := context.Background()
	type step struct {
		repo   string
		format formats.Format
		scheme version.Scheme
		files  []string
	}
	steps := []step{
		{"debian_12", formats.DebianSources, "", shared(t, "debian/debian-bookworm-main-Sources-*.xz")},
		{"debian_12", formats.DebianSources, "", shared(t, "debian/debian-bookworm-main-Sources-*.xz",
			"debian/debian-bookworm-updates-main-Sources-*.xz", "debian/debian-bookworm-security-main-Sources-*.xz")},
		{"debian_13", formats.DebianSources, "", shared(t, "debian/debian-trixie-main-Sources-*.xz")},
		{"debian_13", formats.DebianSources, "", shared(t, "debian/debian-trixie-main-Sources-*.xz",
			"debian/debian-trixie-updates-main-Sources-*.xz", "debian/debian-trixie-security-main-Sources-*.xz")},
	}
	if os.Getenv("DELTALOG_SHORT") == "" {
		steps = append(steps, step{"pypi", formats.TSV, version.SchemePyPI, shared(t, "registries/pypi.tsv.xz")})
	}
	for _, s := range steps {
		sum, err := ingest.Run(ctx, f.updater, ingest.Params{Repo: s.repo, Format: s.format, VersionScheme: s.scheme, Files: s.files})
		require.NoError(t, err)
		require.NoError(t, f.runner.Run(ctx, false), s.repo)
		diffs := verifyClean(t, f.pool)
		t.Logf("%s: %d events, %d tables verified", s.repo, sum.Events, len(diffs))
	}
	// The sequence exercised what it should: statuses in both directions and
	// history entries of every kind.
	require.Positive(t, count(t, f.pool, `SELECT count(*) FROM package_statuses WHERE status = 'outdated'`))
	require.Positive(t, count(t, f.pool, `SELECT count(*) FROM project_history WHERE kind = 'version_update'`))
	require.Positive(t, count(t, f.pool, `SELECT count(*) FROM project_history WHERE kind = 'new_newest'`))
	require.Positive(t, count(t, f.pool, `SELECT count(*) FROM projects WHERE num_repos >= 2`))
	// The loads wrote their history set-based; the audit's replay folds
	// every event: the entries agree.
	require.Equal(t, projections.OutcomeConsistent, audit(t, f, projections.AuditOpts{ReplayHistory: true}).Outcome)
}
