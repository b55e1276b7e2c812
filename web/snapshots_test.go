package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRepositoryPageChartsSnapshots: the repository page draws one bar per
// snapshot row (a batch that moved the repository's counts), newest and
// outdated stacked; a batch that moved none adds no bar.
func TestRepositoryPageChartsSnapshots(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.update(t, "A", pkg("x", "1.0", "n@x"), pkg("y", "1.0", "n@x"))
	f.update(t, "B", pkg("x", "2.0", "n@x")) // A's x falls outdated
	f.update(t, "A", pkg("x", "1.0", "n@x"), pkg("y", "1.1", "n@x"))
	f.update(t, "A", pkg("x", "2.0", "n@x"), pkg("y", "1.1", "n@x"), pkg("z", "1", "n@x"))
	resp, body := f.get(t, "/repository/A")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	page := string(body)
	require.Contains(t, page, `aria-label="packages newest and outdated after each batch"`)
	// A's rows: after batches 1 (2 newest), 2 (1 and 1), 4 (3 newest);
	// batch 3 (y 1.0 to 1.1, newest both times) moved no count.
	require.Equal(t, 3, strings.Count(page, `<rect class="newest"`), page)
	require.Contains(t, page, "batch 2, ")
	require.Contains(t, page, ": 2 packages, 1 newest, 1 outdated</title>")
	require.NotContains(t, page, "batch 3, ")
	require.Contains(t, page, ": 3 packages, 3 newest, 0 outdated</title>")
}
