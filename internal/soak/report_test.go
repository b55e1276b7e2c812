package soak

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestChecksNameWhatFailed: a report of a run in which everything went
// wrong fails every check, each by name, and says why.
func TestChecksNameWhatFailed(t *testing.T) {
	t.Parallel()
	rep := &Report{
		Kills: map[string]int{kindProject: 2}, Restarts: 0, HeadSeq: 10,
		Stream:   StreamReport{Events: 10, Missing: 1, Duplicated: 1, InOrder: false},
		Follower: FollowerReport{HeadSeq: 9, Difference: "head seq 9, the leader's 10"},
		Audit:    AuditReport{Status: 1, Summary: "audit #1: inconsistent"},
		Workers:  WorkerReport{Writing: 3, Violations: 1, First: "catalog: project-1 wrote its tables without its lock (held by nobody)"},
		CatchUp:  CatchUpReport{Pending: []string{"projection catalog at 4 of head 10, running"}},
		Exits: []Exit{{Process: "project-1", After: time.Second, Status: 1, Message: "projection failed", DuringRestart: true},
			{Process: "replicate-2", Status: 1}},
	}
	rep.check(Config{MinKills: 3, MinRestarts: 1, Settle: time.Minute})
	require.Equal(t, []string{"faults", "stream exactly once", "follower", "audit", "no stall", "one worker at a time", "no process gave up"},
		rep.Failed())
	var text strings.Builder
	require.NoError(t, rep.WriteText(&text))
	for _, want := range []string{
		"2 SIGKILLs (at least 3 wanted), 0 PostgreSQL restarts (at least 1)",
		"1 missing, 1 duplicated, 0 unknown, out of order",
		"differs from the leader: head seq 9, the leader's 10",
		"projection catalog at 4 of head 10, running",
		"first: catalog: project-1 wrote its tables without its lock (held by nobody)",
		"2 long-running processes ended by themselves (project 1, replicate 1; 1 of them while PostgreSQL was restarted)",
		"1× like project-1 after 1s, exit status 1 (PostgreSQL restarted meanwhile): projection failed",
	} {
		require.Contains(t, text.String(), want)
	}

	ok := &Report{Kills: map[string]int{kindUpdate: 3}, Restarts: 1, HeadSeq: 10,
		Stream: StreamReport{Events: 10, InOrder: true}, Follower: FollowerReport{Equal: true}, Workers: WorkerReport{Writing: 1}}
	ok.check(Config{MinKills: 3, MinRestarts: 1})
	require.Empty(t, ok.Failed())
}
