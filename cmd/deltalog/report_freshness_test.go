package main

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/web"
)

// TestReportFreshness: the table and its JSON. In ra foo 1.0, bar 2.1
// and baz 0.3 are new newest versions; rb brings foo 1.1 (which catches
// up foo 1.0, and is pending in ra) and bar at 2.0 (bar 2.1 pending in rb).
func TestReportFreshness(t *testing.T) {
	t.Parallel()
	url := twoRepositories(t)
	out, code := cli(t, url, "report", "freshness", "--days", "7")
	require.Zero(t, code, out)
	require.Contains(t, out, "new newest versions first seen in the 7 days to ")
	require.Regexp(t, regexp.MustCompile(`(?m)^ra +0 +1 +- +-$`), out)
	require.Regexp(t, regexp.MustCompile(`(?m)^rb +1 +1 +\S+s +\S+s$`), out)
	require.Regexp(t, regexp.MustCompile(`(?m)^all +1 +2 +\S+s +\S+s$`), out)

	out, code = cli(t, url, "report", "freshness", "--json")
	require.Zero(t, code, out)
	var f web.Freshness
	require.NoError(t, json.Unmarshal([]byte(out), &f), out)
	require.Equal(t, 30, f.Days)
	require.Equal(t, 4, f.Targets)
	require.Equal(t, 1, f.Total.CaughtUp)
	require.Equal(t, 2, f.Total.Pending)
	require.Equal(t, f.Total.MedianSeconds, f.Repositories[1].MedianSeconds, "rb's one sample")

	out, code = cli(t, url, "report", "freshness", "--days", "0")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "--days 0")
}
