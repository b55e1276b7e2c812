package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/projections"
)

// TestReportRelated runs `report related` on a catalog whose projects
// share homepages and repositories under several spellings, and in which
// a package moved to another project: plain text and --json agree.
func TestReportRelated(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewURL(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		f := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(f, []byte(body), 0o644))
		return f
	}
	a := write("a.jsonl", `{"project":"foo","name":"foo","version":"1","links":[{"kind":"homepage","url":"https://www.foo.example/"},{"kind":"vcs","url":"https://git.example/foo.git"}]}
{"project":"foo-ng","name":"foo-ng","version":"1","links":[{"kind":"homepage","url":"http://foo.example"},{"kind":"vcs","url":"git+https://git.example/foo"}]}
{"project":"bar","name":"bar","version":"1","links":[{"kind":"homepage","url":"https://FOO.example"}]}
{"project":"old","name":"libmove","version":"1"}
`)
	b := write("b.jsonl", `{"project":"foo","name":"foo","version":"1","links":[{"kind":"homepage","url":"https://www.foo.example/"},{"kind":"vcs","url":"https://git.example/foo.git"}]}
{"project":"foo-ng","name":"foo-ng","version":"1","links":[{"kind":"homepage","url":"http://foo.example"},{"kind":"vcs","url":"git+https://git.example/foo"}]}
{"project":"bar","name":"bar","version":"1","links":[{"kind":"homepage","url":"https://FOO.example"}]}
{"project":"new","name":"libmove","version":"1"}
`)
	for _, f := range []string{a, b} {
		out, err := exec.Command(binary, "update", f, "--repo", "r", "--format", "jsonl", "--project", "--db", dbURL).CombinedOutput()
		require.NoError(t, err, string(out))
	}
	out, err := exec.Command(binary, "report", "related", "--limit", "2", "--db", dbURL).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, `3 projects related in 3 pairs through 2 shared URLs; 0 URLs of more than 20 projects relate nobody
1 redirects (packages moved to another project)
project                           related  weight  most related
foo                                     2       3  foo-ng, bar
foo-ng                                  2       3  foo, bar
`, string(out))

	out, err = exec.Command(binary, "report", "related", "--json", "--db", dbURL).Output()
	require.NoError(t, err, string(out))
	var rep projections.RelatedReport
	require.NoError(t, json.Unmarshal(out, &rep))
	require.Equal(t, int64(3), rep.Relations)
	require.Equal(t, int64(1), rep.Redirects)
	require.Len(t, rep.Top, 3)
	require.Equal(t, projections.RelatedProject{Project: "bar", NumRelated: 2, Weight: 2, Related: []string{"foo", "foo-ng"}}, rep.Top[2])
}
