package ingest_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/ingest"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/input/version"
)

// TestBatchRecordsTimeSplit: the batch of an update records where its time
// went — parse, diff and write, as the summary reports them — and the
// parts fit in the batch's own span (they are consecutive phases of it).
func TestBatchRecordsTimeSplit(t *testing.T) {
	t.Parallel()
	pool, u := singleBackend(t)
	path := writeFile(t, filepath.Join(t.TempDir(), "r.tsv"), "name\tversion\na\t1.0\nb\t2.0\n")
	ctx := context.Background()
	s, err := ingest.Run(ctx, u, ingest.Params{Repo: "r", Format: formats.TSV, VersionScheme: version.SchemePyPI, Files: []string{path}})
	require.NoError(t, err)
	require.Positive(t, s.Batch)

	bs, err := changelog.ReadBatches(ctx, pool, []int64{s.Batch})
	require.NoError(t, err)
	require.Len(t, bs, 1)
	tm := bs[0].Timings
	require.NotNil(t, tm, "the batch records its time split")
	require.InDelta(t, s.ParseSeconds, tm.Parse, 1e-6, "the parse time the summary reports")
	require.InDelta(t, s.DiffSeconds, tm.Diff, 1e-6, "the diff time the summary reports")
	require.Positive(t, tm.Parse)
	require.Positive(t, tm.Write)
	span := bs[0].FinishedAt.Sub(bs[0].StartedAt).Seconds()
	require.LessOrEqual(t, tm.Parse+tm.Diff+tm.Write, span+1e-3, "the phases lie within the batch's span")
}
