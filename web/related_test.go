package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/web"
)

type viewResp struct {
	Project        web.Project   `json:"project"`
	RedirectedFrom string        `json:"redirected_from"`
	Packages       []web.Package `json:"packages"`
	Related        []web.Related `json:"related"`
}

// moved is package name of project, with a homepage.
func moved(project, name, ver, homepage string) events.Package {
	p := events.Package{Project: project, Name: name, Version: ver,
		Links: []events.Link{{Kind: "homepage", URL: homepage}}}
	p.Normalize()
	return p
}

// TestProjectRedirect is the redirect's proof: a package renamed between
// two snapshots (its project changes) is found under its old name, through
// the API (the new project's body, redirected_from naming the old one) and
// on the dashboard's project page; a name that never was a project is
// still not found.
func TestProjectRedirect(t *testing.T) {
	t.Parallel()
	f := setup(t)
	old := `ol'd-ü`
	f.update(t, "deb", moved(old, "libthing1", "1.0", "https://thing.example"), pkg("other", "1"))
	f.update(t, "deb", moved("thing-ng", "libthing1", "1.1", "https://thing.example"), pkg("other", "1"))

	var v viewResp
	f.getJSON(t, "/api/v1/project/"+url.PathEscape(old), &v)
	require.Equal(t, "thing-ng", v.Project.Name)
	require.Equal(t, old, v.RedirectedFrom)
	require.Len(t, v.Packages, 1)
	require.Equal(t, "libthing1", v.Packages[0].Name)

	// The new name answers without a redirect.
	v = viewResp{}
	f.getJSON(t, "/api/v1/project/thing-ng", &v)
	require.Empty(t, v.RedirectedFrom)

	resp, body := f.get(t, "/project/"+url.PathEscape(old))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.Contains(t, string(body), `id="redirected-from"`)
	require.Contains(t, string(body), `<h1 id="project-name">thing-ng</h1>`)

	resp, _ = f.get(t, "/api/v1/project/never")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = f.get(t, "/project/never")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestProjectRelated: the API's project lists the projects sharing its
// normalized URLs, the most shared first; the dashboard links to them.
func TestProjectRelated(t *testing.T) {
	t.Parallel()
	f := setup(t)
	two := events.Package{Project: "two", Name: "two", Version: "1", Links: []events.Link{
		{Kind: "homepage", URL: "https://WWW.shared.example/"}, {Kind: "vcs", URL: "https://git.example/x.git"}}}
	two.Normalize()
	f.update(t, "deb", moved("one", "one", "1", "http://shared.example"), two,
		moved(`日本 "q"`, "jp", "1", "https://git.example/x"), pkg("alone", "1"))
	f.update(t, "reg", moved("one", "one", "2", "https://git.example/x/"))

	var v viewResp
	f.getJSON(t, "/api/v1/project/two", &v)
	require.Equal(t, []web.Related{{Name: "one", Weight: 2}, {Name: `日本 "q"`, Weight: 1}}, v.Related)
	v = viewResp{}
	f.getJSON(t, "/api/v1/project/alone", &v)
	require.Empty(t, v.Related)
	require.NotNil(t, v.Related, "an empty list, not null")

	_, body := f.get(t, "/project/two")
	require.Contains(t, string(body), `<a class="related" href="/project/one"`)
	require.Contains(t, string(body), `href="/project/%E6%97%A5%E6%9C%AC%20%22q%22"`)
}
