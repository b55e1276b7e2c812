package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mmcdole/gofeed"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/projections"
	"github.com/deltalog/deltalog/web"
)

// feed fetches and parses a feed with a real feed parser, requiring Atom.
func (f *fixture) feed(t *testing.T, path string) *gofeed.Feed {
	t.Helper()
	resp, body := f.get(t, path)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
	require.Equal(t, "application/atom+xml; charset=utf-8", resp.Header.Get("Content-Type"))
	feed, err := gofeed.NewParser().ParseString(string(body))
	require.NoError(t, err, "%s", body)
	require.Equal(t, "atom", feed.FeedType)
	require.Equal(t, "1.0", feed.FeedVersion)
	return feed
}

func ids(feed *gofeed.Feed) []string {
	out := []string{}
	for _, e := range feed.Items {
		out = append(out, e.GUID)
	}
	return out
}

func TestFeeds(t *testing.T) {
	t.Parallel()
	f := setup(t)
	catalog(t, f)
	f.update(t, "deb", pkg("foo", "1.2", "a@x.org"), pkg("bar", "2.0", "a@x.org", "b@x.org"), pkg("baz", "3.0", "b@x.org"))

	project := f.feed(t, "/feeds/project/foo")
	require.Equal(t, "deltalog: project foo", project.Title)
	require.Len(t, project.Items, 6)
	top := project.Items[0]
	require.Equal(t, "foo updated from 1.0 to 1.2 in deb", project.Items[1].Title)
	require.Equal(t, []string{"new_newest"}, top.Categories)
	require.NotNil(t, top.UpdatedParsed)
	require.Equal(t, "/project/foo", top.Link)
	require.Regexp(t, `^urn:deltalog:change:\d+:new_newest$`, top.GUID)
	for _, e := range project.Items {
		require.Contains(t, e.Title, "foo")
	}

	maint := f.feed(t, "/feeds/maintainer/"+url.PathEscape("a@x.org"))
	require.NotEmpty(t, maint.Items)
	for _, e := range maint.Items {
		require.Regexp(t, `^(foo|bar) `, e.Title, "a@x.org maintains foo and bar only")
	}
	repo := f.feed(t, "/feeds/repository/reg")
	for _, e := range repo.Items {
		require.Contains(t, e.Title, " reg")
	}
	// foo and qux added, each a new newest; then deb's foo 1.2 made reg's
	// foo 1.1 outdated.
	require.Len(t, repo.Items, 5)
	require.Equal(t, "foo 1.1 fell outdated in reg: 1.2 is newer (in deb)", repo.Items[0].Title)

	// The same change has the same id on every poll, in every feed it is
	// in, and after the history is rebuilt from the changelog into a new
	// table (what a follower does too: its rows are its own, its entries
	// the same).
	require.Equal(t, ids(project), ids(f.feed(t, "/feeds/project/foo")))
	require.Subset(t, ids(maint), ids(project)[:2])
	relation := count(t, f, "SELECT 'project_history'::regclass::oid::bigint")
	_, err := projections.Rebuild(context.Background(), f.admin, projections.RebuildOpts{
		Projections: []string{projections.HistoryName}, From: projections.FromChangelog})
	require.NoError(t, err)
	require.NotEqual(t, relation, count(t, f, "SELECT 'project_history'::regclass::oid::bigint"), "a new table")
	require.Equal(t, ids(project), ids(f.feed(t, "/feeds/project/foo")))

	// A later change adds an entry on top and keeps the others.
	f.update(t, "reg", pkg("foo", "2.0"), pkg("qux", "0.1"))
	again := f.feed(t, "/feeds/project/foo")
	require.Equal(t, ids(project), ids(again)[len(ids(again))-len(ids(project)):])
	require.True(t, strings.HasPrefix(again.Items[0].GUID, "urn:deltalog:change:"))

	resp, _ := f.get(t, "/feeds/project/nope")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestRepositoryFeedFellOutdated walks the branches of a repository's
// "fell outdated" entries: its newest package overtaken elsewhere (an
// entry), overtaken again while already outdated (none), caught up by its
// own update (none: that is its own version update), a project it dropped
// before being overtaken (none), and the same entries on every poll.
func TestRepositoryFeedFellOutdated(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.update(t, "deb", pkg("foo", "1.0"), pkg("gone", "1.0"))
	f.update(t, "reg", pkg("foo", "1.1"))                     // deb's foo 1.0 falls outdated
	f.update(t, "reg", pkg("foo", "1.2"))                     // already outdated: nothing new for deb
	f.update(t, "deb", pkg("foo", "1.2"))                     // deb catches up (equal, not newer: reg stays newest)
	f.update(t, "deb", pkg("foo", "1.2"), pkg("bar", "1.0"))  // gone leaves deb…
	f.update(t, "reg", pkg("foo", "1.3"), pkg("gone", "2.0")) // …before reg brings a newer one; foo falls again

	fell := func() []string {
		out := []string{}
		for _, e := range f.feed(t, "/feeds/repository/deb").Items {
			if len(e.Categories) == 1 && e.Categories[0] == "fell_outdated" {
				require.Regexp(t, `^urn:deltalog:change:\d+:fell_outdated$`, e.GUID)
				out = append(out, e.Title+" "+e.GUID)
			}
		}
		return out
	}
	got := fell()
	require.Len(t, got, 2, "%v", got)
	require.True(t, strings.HasPrefix(got[0], "foo 1.2 fell outdated in deb: 1.3 is newer (in reg) "), got[0])
	require.True(t, strings.HasPrefix(got[1], "foo 1.0 fell outdated in deb: 1.1 is newer (in reg) "), got[1])
	require.Equal(t, got, fell(), "the same entries, the same ids, on every poll")
	for _, e := range f.feed(t, "/feeds/repository/reg").Items {
		require.NotContains(t, e.Categories, "fell_outdated", "reg was never overtaken: %s", e.Title)
	}
}

func TestEntryID(t *testing.T) {
	t.Parallel()
	require.Equal(t, "urn:deltalog:change:42:version_update", web.EntryID(42, "version_update"))
	require.NotEqual(t, web.EntryID(42, "added"), web.EntryID(42, "new_newest"))
}
