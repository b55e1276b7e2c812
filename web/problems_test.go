package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/web"
)

// TestRepositoryProblems serves a repository's problems (its name with
// quotes and non-ASCII letters) through the read-only role: counts by
// kind, keyset pages that together hold every problem once, the kind
// filter, the ETag poll, bad parameters, the maintainer's counts and the
// repository page's table.
func TestRepositoryProblems(t *testing.T) {
	t.Parallel()
	f := setup(t)
	repo := `dépôt "o'brien"; --`
	var pkgs []events.Package
	for i := range 5 {
		p := pkg(fmt.Sprintf("nohome-%d", i), "1.0", "m@x.org")
		p.Links = nil // no homepage
		pkgs = append(pkgs, p)
	}
	for i := range 3 {
		p := pkg(fmt.Sprintf("http-%d", i), "1.0", "n@x.org")
		p.Links = []events.Link{{Kind: "homepage", URL: "http://example.org/" + p.Project}}
		pkgs = append(pkgs, p)
	}
	pkgs = append(pkgs, pkg("fine", "1.0", "m@x.org")) // https://example.org/fine: the host is known over https
	f.update(t, repo, pkgs...)
	base := "/api/v1/repository/" + url.PathEscape(repo) + "/problems"

	var page web.ProblemsPage
	resp := f.getJSON(t, base, &page)
	require.Equal(t, repo, page.Repository)
	require.Equal(t, []web.ProblemCount{{Kind: "no_homepage", NumProblems: 5}, {Kind: "homepage_http", NumProblems: 3},
		{Kind: "homepage_shared"}, {Kind: "version_unparsed"}, {Kind: "outdated_alone"}}, page.Counts)
	require.Len(t, page.Problems, 2, "the default limit")

	// Pages follow one another without gaps or repeats.
	var all []string
	next := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		var pg web.ProblemsPage
		f.getJSON(t, base+"?limit=3&after="+url.QueryEscape(next), &pg)
		for _, p := range pg.Problems {
			all = append(all, p.Project+" "+p.Kind)
		}
		if next = pg.Next; next == "" {
			break
		}
	}
	require.Len(t, all, 8)
	require.IsIncreasing(t, all)
	require.Contains(t, all, "http-0 homepage_http")

	var kind web.ProblemsPage
	f.getJSON(t, base+"?limit=100&kind=homepage_http", &kind)
	require.Len(t, kind.Problems, 3)
	require.JSONEq(t, `{"homepage": "http://example.org/http-0"}`, string(kind.Problems[0].Data))
	require.Equal(t, []string{"n@x.org"}, kind.Problems[0].Maintainers)

	r, _ := f.get(t, base, "If-None-Match", resp.Header.Get("ETag"))
	require.Equal(t, http.StatusNotModified, r.StatusCode)
	for _, bad := range []string{"?after=zzz", "?kind=nope", "?limit=0"} {
		r, body := f.get(t, base+bad)
		require.Equal(t, http.StatusBadRequest, r.StatusCode, "%s: %s", bad, body)
	}
	r, _ = f.get(t, "/api/v1/repository/"+url.PathEscape("no such")+"/problems")
	require.Equal(t, http.StatusNotFound, r.StatusCode)

	var m struct {
		Maintainer string             `json:"maintainer"`
		Counts     []web.ProblemCount `json:"counts"`
	}
	f.getJSON(t, "/api/v1/maintainer/"+url.PathEscape("m@x.org")+"/problems", &m)
	require.Equal(t, web.ProblemCount{Kind: "no_homepage", NumProblems: 5}, m.Counts[0])

	// A fix moves the counts the next poll sees.
	pkgs[0].Links = []events.Link{{Kind: "homepage", URL: "https://example.org/nohome-0"}}
	f.update(t, repo, pkgs...)
	f.getJSON(t, base, &page)
	require.Equal(t, 4, page.Counts[0].NumProblems)

	r, body := f.get(t, "/repository/"+url.PathEscape(repo))
	require.Equal(t, http.StatusOK, r.StatusCode)
	html := string(body)
	require.Contains(t, html, `<td class="kind">no_homepage</td><td class="count">4</td>`)
	require.Contains(t, html, `<td class="kind">homepage_http</td><td class="count">3</td>`)
	require.True(t, strings.Contains(html, `/problems">JSON</a>`))
}
