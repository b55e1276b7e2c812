package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
)

// EnvScreenshot names a file the browser test also writes the dashboard's
// screenshot to (the README's is made so).
const EnvScreenshot = "DELTALOG_SCREENSHOT"

// browser finds a Chromium. Without one the test skips, except in CI
// (CI=true), where the set-up installs it and its absence is a failure.
func browser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found: install it with `make deps-browser` (Debian: apt-get install chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestDashboardInBrowser drives a real headless Chromium through the
// dashboard: load it, search a project, open its page, follow a link to a
// maintainer, and check what each page shows.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	exe := browser(t)
	f := setup(t)
	catalog(t, f)
	head, err := changelog.Head(context.Background(), f.admin)
	require.NoError(t, err)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1200, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()

	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return v
	}
	screenshot := func() []byte {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
		require.NoError(t, err)
		return b
	}

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+"/")))
	require.Equal(t, strconv.FormatInt(head, 10), text("#head-seq"))
	projections := text("#projections")
	require.Contains(t, projections, "catalog")
	require.Contains(t, projections, "caught_up")
	chart, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("#batches svg")))
	require.NoError(t, err)
	require.Equal(t, 8, strings.Count(chart, "<rect"), "two batches: a duration bar split in three, an events bar")
	for _, part := range []string{"parse", "diff", "write"} {
		require.Equal(t, 2, strings.Count(chart, `class="`+part+`"`), part)
	}
	require.Regexp(t, `^\d+\.\d\ds / \d+\.\d\ds / \d+\.\d\ds$`, text("#batches td.split"))
	dashboard := screenshot()

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#search"), "fo"),
		chromedp.Click(chromedp.CSS("#search-go")),
		chromedp.WaitVisible(chromedp.CSS("#results")),
	))
	results := text("#results")
	require.Contains(t, results, "foo")
	require.NotContains(t, results, "bar", "the search filtered")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#results a.project")),
		chromedp.WaitVisible(chromedp.CSS("#project-name")),
	))
	require.Equal(t, "foo", text("#project-name"))
	require.Equal(t, "1.1", text("#newest"))
	packages := text("#packages")
	require.Contains(t, packages, "outdated")
	require.Contains(t, packages, "a@x.org")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.Search(`//a[@class="maintainer" and text()="a@x.org"]`)),
		chromedp.WaitVisible(chromedp.CSS("#maintainer-email")),
	))
	location, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(location, "/maintainer/a@x.org"), location)
	require.Equal(t, "a@x.org", text("#maintainer-email"))
	require.Equal(t, "2 packages of 2 projects in 1 repositories", text("#maintainer-counts"))
	require.Contains(t, text("#maintainer-repositories"), "deb")
	page := screenshot()

	// The repository page shows its problems by kind: deb's foo is behind
	// reg's, the only other repository with it.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.Search(`//table[@id="maintainer-repositories"]//a[text()="deb"]`)),
		chromedp.WaitVisible(chromedp.CSS("#problems")),
	))
	require.Regexp(t, `outdated_alone\s+1`, text("#problems"))
	require.Regexp(t, `no_homepage\s+0`, text("#problems"))

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dashboard.png"), dashboard, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "maintainer.png"), page, 0o644))
	if out := os.Getenv(EnvScreenshot); out != "" {
		require.NoError(t, os.WriteFile(out, dashboard, 0o644))
	}
}
