package ingest_test

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/ingest"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
)

// sharedDebian returns the real Debian index files matching each pattern
// under ../shared/data/debian, skipping the test when the data is absent.
func sharedDebian(t testing.TB, patterns ...string) []string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "data", "debian")
	var out []string
	for _, p := range patterns {
		m, _ := filepath.Glob(filepath.Join(dir, p))
		if len(m) != 1 {
			t.Skipf("shared Debian data not found (%s in %s)", p, dir)
		}
		out = append(out, m[0])
	}
	return out
}

func setup(t *testing.T) (*pgxpool.Pool, *changelog.Updater) {
	t.Helper()
	pool := dbtest.New(t)
	u, err := changelog.NewUpdater(pool, changelog.Config{})
	require.NoError(t, err)
	return pool, u
}

func run(t *testing.T, u *changelog.Updater, repo string, f formats.Format, files ...string) *ingest.Summary {
	t.Helper()
	s, err := ingest.Run(context.Background(), u, ingest.Params{Repo: repo, Format: f, Files: files})
	require.NoError(t, err)
	return s
}

// projectsOf reads a snapshot and groups its packages by project, each list
// sorted, for an independent (checksum-free) comparison of two snapshots.
func projectsOf(t *testing.T, files ...string) map[string][]events.Package {
	t.Helper()
	snap, err := formats.ReadSnapshot(context.Background(), formats.DebianSources, files)
	require.NoError(t, err)
	out := map[string][]events.Package{}
	for _, p := range snap.Packages {
		out[p.Project] = append(out[p.Project], p)
	}
	for _, ps := range out {
		slices.SortFunc(ps, func(a, b events.Package) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
		})
	}
	return out
}

// TestDebianOverlayEmitsOnlyChanges: bookworm, then bookworm with its
// -updates and -security overlays, emits one event per source package whose
// content changed — the same set a direct comparison of the parsed packages
// finds — and a third run of the same snapshot appends nothing.
func TestDebianOverlayEmitsOnlyChanges(t *testing.T) {
	t.Parallel()
	base := sharedDebian(t, "debian-bookworm-main-Sources-*.xz")
	overlays := sharedDebian(t, "debian-bookworm-updates-main-Sources-*.xz", "debian-bookworm-security-main-Sources-*.xz")
	pool, u := setup(t)

	first := run(t, u, "debian_12", formats.DebianSources, base...)
	require.Greater(t, first.Packagesets, 30000)
	require.Equal(t, first.Packagesets, first.Added)
	require.Equal(t, first.Packagesets, first.Events)

	full := append(slices.Clone(base), overlays...)
	second := run(t, u, "debian_12", formats.DebianSources, full...)

	before, after := projectsOf(t, base...), projectsOf(t, full...)
	var want []string
	for project, ps := range after {
		if !reflect.DeepEqual(before[project], ps) {
			want = append(want, project)
		}
	}
	for project := range before {
		if _, ok := after[project]; !ok {
			want = append(want, project)
		}
	}
	slices.Sort(want)
	require.NotEmpty(t, want)
	require.Less(t, len(want), first.Packagesets/20, "an overlay is a small delta")

	page, err := changelog.ReadPage(context.Background(), pool, changelog.PageParams{After: first.HeadSeq})
	require.NoError(t, err)
	evs := page.Events
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Project)
		require.Equal(t, second.Batch, ev.Batch)
	}
	require.Equal(t, want, got)
	require.Equal(t, len(want), second.Events)
	require.Equal(t, second.Packagesets-second.Added-second.Changed, second.Unchanged)
	t.Logf("overlay: %d events of %d packagesets", second.Events, second.Packagesets)

	third := run(t, u, "debian_12", formats.DebianSources, full...)
	require.Zero(t, third.Batch)
	require.Zero(t, third.Events)
	require.Equal(t, second.HeadSeq, third.HeadSeq)
	require.Equal(t, second.StateChecksum, third.StateChecksum)
}

// TestConvergenceBookwormThenTrixie is invariant 2 on a release-sized delta:
// bookworm then trixie into one repository gives the same state checksum and
// the same packages as trixie into an empty database.
func TestConvergenceBookwormThenTrixie(t *testing.T) {
	t.Parallel()
	bookworm := sharedDebian(t, "debian-bookworm-main-Sources-*.xz")
	trixie := sharedDebian(t, "debian-trixie-main-Sources-*.xz")
	poolAB, uAB := setup(t)
	poolB, uB := setup(t)

	run(t, uAB, "debian", formats.DebianSources, bookworm...)
	ab := run(t, uAB, "debian", formats.DebianSources, trixie...)
	b := run(t, uB, "debian", formats.DebianSources, trixie...)

	require.Greater(t, ab.Changed+ab.Added+ab.Removed, ab.Packagesets/2, "bookworm → trixie is a release-sized delta")
	require.Equal(t, b.StateChecksum, ab.StateChecksum)
	require.Equal(t, b.RepoStateChecksum, ab.RepoStateChecksum)
	require.Equal(t, b.Packages, ab.Packages)
	require.Equal(t, dbtest.Digest(t, poolB, "packages", "packagesets"), dbtest.Digest(t, poolAB, "packages", "packagesets"))
}

// TestBadInputChangesNothing: malformed input fails with an error naming the
// file and line, and the database is exactly as before.
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	pool, u := setup(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl")
	require.NoError(t, os.WriteFile(good, []byte(
		`{"name":"a","version":"1.0"}`+"\n"+`{"name":"b","version":"2.0"}`+"\n"), 0o644))
	run(t, u, "r", formats.JSONL, good)
	before := dbtest.Digest(t, pool)

	cases := map[string]string{
		"broken.jsonl":    `{"name":"a","version":"1.1"}` + "\n" + `{"name":"b","version":` + "\n",
		"noversion.jsonl": `{"name":"a","version":"1.1"}` + "\n" + `{"name":"b"}` + "\n",
		"badutf8.jsonl":   `{"name":"a","version":"1.1"}` + "\n" + "{\"name\":\"b\xff\",\"version\":\"1\"}\n",
	}
	for name, content := range cases {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		// The good file first: a failure in a later file of the snapshot
		// must not apply the earlier one either.
		_, err := ingest.Run(context.Background(), u, ingest.Params{Repo: "r", Format: formats.JSONL, Files: []string{good, path}})
		require.Error(t, err, name)
		var pe *formats.ParseError
		require.ErrorAs(t, err, &pe, name)
		require.Equal(t, path, pe.File, name)
		require.Equal(t, 2, pe.Line, name)
		require.Equal(t, before, dbtest.Digest(t, pool), name)
	}

	_, err := ingest.Run(context.Background(), u, ingest.Params{Repo: "r", Format: formats.JSONL, Files: []string{filepath.Join(dir, "missing.jsonl")}})
	require.ErrorContains(t, err, "missing.jsonl")
	require.Equal(t, before, dbtest.Digest(t, pool))
}
