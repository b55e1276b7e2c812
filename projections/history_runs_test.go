package projections

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
)

func TestHistoryRuns(t *testing.T) {
	t.Parallel()
	ev := func(kind events.Kind, project, repo string) events.Event {
		e := events.Event{Kind: kind, Project: project, Repo: repo}
		if kind != events.KindRemoved {
			e.Added = []events.Package{{Project: project, Name: project, Version: "1"}}
		}
		if kind != events.KindAdded {
			e.Removed = []events.Package{{Project: project, Name: project, Version: "0"}}
		}
		return e
	}
	added, changed := events.KindAdded, events.KindChanged
	page := []events.Event{
		ev(added, "a", "r1"), ev(added, "b", "r1"), ev(added, "a", "r2"), // fresh pairs
		ev(added, "a", "r1"),                         // a pair seen in the run: ends it
		ev(changed, "b", "r1"), ev(added, "c", "r1"), // a run of one, below the threshold
		ev(changed, "c", "r1"),
		{Kind: added, Project: "d", Repo: "r1"}, // no package: folded
		ev(added, "e", "r1"), ev(added, "f", "r1"),
	}
	for _, tc := range []struct {
		name string
		from int
		want []historyRun
	}{
		{"threshold 2", 2, []historyRun{{0, 3, true}, {3, 8, false}, {8, 10, true}}},
		{"threshold 1", 1, []historyRun{{0, 3, true}, {3, 5, false}, {5, 6, true}, {6, 8, false}, {8, 10, true}}},
		{"threshold 3", 3, []historyRun{{0, 3, true}, {3, 10, false}}},
		{"never", -1, []historyRun{{0, 10, false}}},
		{"default", 0, []historyRun{{0, 10, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, History{bulkFrom: tc.from}.runs(page))
		})
	}
	require.Empty(t, History{}.runs(nil))
}
