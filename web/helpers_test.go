package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
	"github.com/deltalog/deltalog/projections"
	"github.com/deltalog/deltalog/web"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// pgx's pools close their background health checks lazily.
		goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).triggerHealthCheck.func1"),
		goleak.IgnoreAnyFunction("github.com/chromedp/chromedp.(*Browser).run"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"),
	)
}

// fixture is a catalog served by the read side over a read-only pool.
type fixture struct {
	admin   *pgxpool.Pool // the owner's pool: writes the catalog
	reader  *pgxpool.Pool // the read side's pool
	updater *changelog.Updater
	runner  *projections.Runner
	srv     *httptest.Server
}

func setup(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	admin := dbtest.New(t)
	reader, err := web.OpenReadOnly(ctx, admin.Config(), 0)
	require.NoError(t, err)
	t.Cleanup(reader.Close)
	u, err := changelog.NewUpdater(admin, changelog.Config{})
	require.NoError(t, err)
	ps, err := projections.Default(projections.CatalogConfig{CacheSize: 1000})
	require.NoError(t, err)
	r, err := projections.NewRunner(projections.Config{DB: admin, Projections: ps, RebuildLag: -1})
	require.NoError(t, err)
	h, err := web.New(web.Config{DB: reader, DefaultLimit: 2, MaxLimit: 100})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{admin: admin, reader: reader, updater: u, runner: r, srv: srv}
}

// update ingests a snapshot of repo and runs the projections to the head.
func (f *fixture) update(t testing.TB, repo string, pkgs ...events.Package) {
	t.Helper()
	ctx := context.Background()
	_, err := f.updater.Update(ctx, changelog.UpdateParams{
		Repo: repo, Seed: hashing.DefaultSeed, VersionScheme: version.SchemeGeneric, Force: true,
		Snapshot: hashing.Group(hashing.New(hashing.DefaultSeed), pkgs),
	})
	require.NoError(t, err)
	require.NoError(t, f.runner.Run(ctx, false))
}

func pkg(project, ver string, maintainers ...string) events.Package {
	p := events.Package{Project: project, Name: project, Version: ver, Summary: "the " + project + " project"}
	for _, m := range maintainers {
		p.Maintainers = append(p.Maintainers, events.Maintainer{Email: m, Name: "N " + m})
	}
	p.Links = []events.Link{{Kind: "homepage", URL: "https://example.org/" + url.PathEscape(project)}}
	p.Normalize()
	return p
}

// get fetches path (already escaped) with optional headers.
func (f *fixture) get(t testing.TB, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

// getJSON fetches path, requires 200 and decodes the body into v.
func (f *fixture) getJSON(t testing.TB, path string, v any) *http.Response {
	t.Helper()
	resp, body := f.get(t, path)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
	require.NoError(t, json.Unmarshal(body, v), "%s", body)
	return resp
}
