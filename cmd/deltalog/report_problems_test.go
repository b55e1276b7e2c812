package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/projections"
)

// TestReportProblems runs `deltalog report problems` as a user would, on
// two repositories: plain text, --json, --repo, and an unknown repository.
func TestReportProblems(t *testing.T) {
	t.Parallel()
	url := twoRepositories(t)

	// ra: libfoo, bar and baz have no homepage; foo's two packages are
	// behind rb's foo, the only other repository with it. rb: neither
	// package has a homepage; bar is behind ra's.
	out, code := cli(t, url, "report", "problems")
	require.Zero(t, code, out)
	require.Equal(t, `repository no_homepage homepage_http homepage_shared version_unparsed outdated_alone    total
ra                   3             0               0                0              2        5
rb                   2             0               0                0              1        3

maintainer no_homepage homepage_http homepage_shared version_unparsed outdated_alone    total
a@x                  2             0               0                0              2        4
b@x                  2             0               0                0              1        3
c@x                  1             0               0                0              0        1
d@x                  1             0               0                0              0        1
`, out)

	out, code = cli(t, url, "report", "problems", "--repo", "rb", "--json")
	require.Zero(t, code, out)
	var rep projections.ProblemReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Len(t, rep.Repositories, 1)
	require.Equal(t, "rb", rep.Repositories[0].Name)
	require.Equal(t, map[string]int{"no_homepage": 2, "homepage_http": 0, "homepage_shared": 0, "version_unparsed": 0,
		"outdated_alone": 1}, rep.Repositories[0].Counts)
	require.Equal(t, []string{"b@x", "d@x"}, []string{rep.Maintainers[0].Name, rep.Maintainers[1].Name})
	require.Equal(t, 2, rep.Maintainers[0].Total)

	out, code = cli(t, url, "report", "problems", "--repo", "nope")
	require.NotZero(t, code)
	require.Contains(t, out, `no such repository: "nope"`)
}

// twoRepositories loads snapshotA as repository ra and snapshotB as rb,
// with projections, into a new database, and returns its URL: the catalog
// the report tests read.
func twoRepositories(t *testing.T) string {
	t.Helper()
	url := dbtest.NewURL(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	require.NoError(t, os.WriteFile(a, []byte(snapshotA), 0o644))
	require.NoError(t, os.WriteFile(b, []byte(snapshotB), 0o644))
	for _, u := range [][]string{{"--repo", "ra", a}, {"--repo", "rb", b}} {
		out, code := cli(t, url, append([]string{"update", "--format", "jsonl", "--project"}, u...)...)
		require.Zero(t, code, out)
	}
	return url
}
