package web_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/web"
)

// freshnessFixture is a history whose batches are moved to a constructed
// clock (hours after base); the entries take their batch's time:
//
//	0h  A: x 1.0, y 1.0, z 1.0   new newest x 1.0, y 1.0, z 1.0 (z only ever in A)
//	1h  B: x 1.0, y 0.9          B has x 1.0 after 1h; y pending
//	2h  C: x 1.0                 C has x 1.0 after 2h
//	10h A: x 2.0                 new newest x 2.0
//	13h B: x 2.0, y 1.0          B: x 2.0 after 3h, y 1.0 after 13h
//	30h C: x 2.1                 C: x 2.0 after 20h (2.1 is at least 2.0),
//	                             and a new newest x 2.1, pending in A and B
//
// B's x is maintained by m@x, everything else by n@x.
func freshnessFixture(t *testing.T) (*fixture, time.Time) {
	t.Helper()
	f := setup(t)
	f.update(t, "A", pkg("x", "1.0", "n@x"), pkg("y", "1.0", "n@x"), pkg("z", "1.0", "n@x"))
	f.update(t, "B", pkg("x", "1.0", "m@x"), pkg("y", "0.9", "n@x"))
	f.update(t, "C", pkg("x", "1.0", "n@x"))
	f.update(t, "A", pkg("x", "2.0", "n@x"), pkg("y", "1.0", "n@x"), pkg("z", "1.0", "n@x"))
	f.update(t, "B", pkg("x", "2.0", "m@x"), pkg("y", "1.0", "n@x"))
	f.update(t, "C", pkg("x", "2.1", "n@x"))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	_, err := f.admin.Exec(ctx, `
		UPDATE batches b SET finished_at = $1::timestamptz + make_interval(hours => h.hours)
		FROM unnest('{1,2,3,4,5,6}'::bigint[], '{0,1,2,10,13,30}'::integer[]) AS h (id, hours) WHERE b.id = h.id`, base)
	require.NoError(t, err)
	_, err = f.admin.Exec(ctx, `UPDATE project_history h SET at = b.finished_at FROM batches b WHERE b.id = h.batch_id`)
	require.NoError(t, err)
	return f, base
}

func hours(h float64) *float64 { s := h * 3600; return &s }

func TestFreshnessOfAConstructedHistory(t *testing.T) {
	t.Parallel()
	f, base := freshnessFixture(t)
	ctx := context.Background()

	got, err := web.ReadFreshness(ctx, f.reader, web.FreshnessParams{})
	require.NoError(t, err)
	require.Equal(t, base.Add(30*time.Hour), got.Until.UTC())
	require.Equal(t, 30, got.Days)
	require.Equal(t, 5, got.Targets, "x 1.0, y 1.0, z 1.0, x 2.0, x 2.1")
	// B: 1h, 3h, 13h: median the 2nd, p90 the 3rd. C: 2h, 20h: the 1st
	// and the 2nd. All: 1h 2h 3h 13h 20h: the 3rd and the 5th.
	require.Equal(t, []web.FreshnessRow{
		{Repository: "A", CaughtUp: 0, Pending: 1},
		{Repository: "B", CaughtUp: 3, Pending: 1, MedianSeconds: hours(3), P90Seconds: hours(13)},
		{Repository: "C", CaughtUp: 2, Pending: 0, MedianSeconds: hours(2), P90Seconds: hours(20)},
	}, got.Repositories)
	require.Equal(t, web.FreshnessRow{CaughtUp: 5, Pending: 2, MedianSeconds: hours(3), P90Seconds: hours(20)}, got.Total)

	// One day to 30h: the versions first seen after 6h, x 2.0 and x 2.1.
	got, err = web.ReadFreshness(ctx, f.reader, web.FreshnessParams{Days: 1})
	require.NoError(t, err)
	require.Equal(t, 2, got.Targets)
	require.Equal(t, []web.FreshnessRow{
		{Repository: "A", Pending: 1},
		{Repository: "B", CaughtUp: 1, Pending: 1, MedianSeconds: hours(3), P90Seconds: hours(3)},
		{Repository: "C", CaughtUp: 1, MedianSeconds: hours(20), P90Seconds: hours(20)},
	}, got.Repositories)

	// Over the API: a repository's row; a maintainer's pairs only (m@x:
	// x in B, 1h and 3h, and x 2.1 pending).
	var repo struct {
		Freshness web.Freshness `json:"freshness"`
	}
	f.getJSON(t, "/api/v1/repository/C/freshness", &repo)
	require.Equal(t, []web.FreshnessRow{{Repository: "C", CaughtUp: 2, MedianSeconds: hours(2), P90Seconds: hours(20)}},
		repo.Freshness.Repositories)
	var maint struct {
		Freshness web.Freshness `json:"freshness"`
	}
	f.getJSON(t, "/api/v1/maintainer/m@x/freshness", &maint)
	require.Equal(t, []web.FreshnessRow{{Repository: "B", CaughtUp: 2, Pending: 1, MedianSeconds: hours(1), P90Seconds: hours(3)}},
		maint.Freshness.Repositories)
	f.getJSON(t, "/api/v1/maintainer/m@x/freshness?days=1", &maint)
	require.Equal(t, 1, maint.Freshness.Total.CaughtUp)

	resp, _ := f.get(t, "/api/v1/repository/nope/freshness")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = f.get(t, "/api/v1/repository/C/freshness?days=0")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}
