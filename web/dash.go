package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"time"

	"github.com/deltalog/deltalog/projections"
	"github.com/deltalog/deltalog/replay"
)

//go:embed templates/*.html
var templatesFS embed.FS

// staticFS holds static/…, served under the same path.
//
//go:embed static
var staticFS embed.FS

var funcs = template.FuncMap{
	"esc":   url.PathEscape,
	"bytes": humanBytes,
	"time":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
	"secs":  func(f float64) string { return fmt.Sprintf("%.2fs", f) },
	// behind: how many seqs a stream has yet to send (a repository's
	// stream may have none of them to send).
	"behind": func(head, sent int64) int64 { return max(0, head-sent) },
	// lagSeconds: how long a projection that is behind has not advanced.
	"lagSeconds": func(t *time.Time) float64 { return time.Since(*t).Seconds() },
	"pct": func(hits, misses uint64) string {
		if hits+misses == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(hits)/float64(hits+misses))
	},
}

// parsePages parses every page with the shared layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templatesFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || base == "history.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templatesFS, "templates/layout.html", "templates/history.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", base, err)
		}
		pages[base] = t
	}
	return pages, nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// pageFunc returns a page's template name and data.
type pageFunc func(ctx context.Context, r *http.Request) (page string, data any, err error)

// page renders a dashboard page into a buffer first, so that a failed
// query gives an error page, not half a page.
func (s *Server) page(h pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, data, err := h(r.Context(), r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var buf bytes.Buffer
		if err := s.pages[name].Execute(&buf, data); err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(buf.Bytes())
	}
}

// dashboard is what / shows.
type dashboard struct {
	Checkpoint   Checkpoint
	Statistics   Statistics
	Projections  []projections.Status
	Streams      []replay.StreamInfo
	Batches      []Batch
	BatchChart   template.HTML
	AuditRuns    []AuditRun
	Relations    []Relation
	Repositories []Repository
}

func (s *Server) pageDashboard(ctx context.Context, _ *http.Request) (string, any, error) {
	var d dashboard
	var err error
	if d.Checkpoint, err = s.store.checkpoint(ctx); err != nil {
		return "", nil, err
	}
	if d.Statistics, err = s.store.statistics(ctx); err != nil {
		return "", nil, err
	}
	if d.Projections, err = s.store.projections(ctx); err != nil {
		return "", nil, err
	}
	if s.cfg.Streams != nil {
		d.Streams = s.cfg.Streams()
	}
	if d.Batches, err = s.store.batches(ctx, 30); err != nil {
		return "", nil, err
	}
	d.BatchChart = batchChart(d.Batches)
	if d.AuditRuns, err = s.store.auditRuns(ctx, 10); err != nil {
		return "", nil, err
	}
	if d.Relations, err = s.store.relationSizes(ctx, 20); err != nil {
		return "", nil, err
	}
	if d.Repositories, err = s.store.repositories(ctx); err != nil {
		return "", nil, err
	}
	return "dashboard.html", d, nil
}

func (s *Server) pageSearch(ctx context.Context, r *http.Request) (string, any, error) {
	p, err := parseProjectsParams(r.URL.Query(), s.cfg.DefaultLimit, s.cfg.MaxLimit)
	if err != nil {
		return "", nil, err
	}
	page, err := s.store.projects(ctx, p)
	if err != nil {
		return "", nil, err
	}
	next := ""
	if page.Next != "" {
		q := r.URL.Query()
		q.Set("after", page.Next)
		next = "/search?" + q.Encode()
	}
	return "search.html", struct {
		Query ProjectsParams
		Page  ProjectsPage
		Next  string
	}{p, page, next}, nil
}

func (s *Server) pageProject(ctx context.Context, r *http.Request) (string, any, error) {
	v, err := s.store.projectView(ctx, r.PathValue("name"))
	if err != nil {
		return "", nil, err
	}
	h, err := s.store.history(ctx, "project", v.Project.Name, math.MaxInt64, 20)
	if err != nil {
		return "", nil, err
	}
	return "project.html", struct {
		projectView
		History []HistoryEntry
	}{v, h}, nil
}

func (s *Server) pageMaintainer(ctx context.Context, r *http.Request) (string, any, error) {
	m, err := s.store.maintainer(ctx, r.PathValue("email"))
	if err != nil {
		return "", nil, err
	}
	projects, err := s.store.maintainerProjects(ctx, m.ID, r.URL.Query().Get("after"), s.cfg.DefaultLimit)
	if err != nil {
		return "", nil, err
	}
	h, err := s.store.history(ctx, "maintainer", m.ID, math.MaxInt64, 20)
	if err != nil {
		return "", nil, err
	}
	return "maintainer.html", struct {
		Maintainer MaintainerInfo
		Projects   []string
		History    []HistoryEntry
	}{m, projects, h}, nil
}

func (s *Server) pageRepository(ctx context.Context, r *http.Request) (string, any, error) {
	repo, err := s.store.repository(ctx, r.PathValue("name"))
	if err != nil {
		return "", nil, err
	}
	outdated, err := s.store.projects(ctx, ProjectsParams{Outdated: repo.Name, After: r.URL.Query().Get("after"), Limit: s.cfg.DefaultLimit})
	if err != nil {
		return "", nil, err
	}
	h, err := s.store.history(ctx, "repository", repo.ID, math.MaxInt64, 20)
	if err != nil {
		return "", nil, err
	}
	snaps, err := s.store.repositoryHistory(ctx, repo.ID, 100)
	if err != nil {
		return "", nil, err
	}
	problems, err := s.store.problemCounts(ctx, "web-repository-problem-counts", repo.ID)
	if err != nil {
		return "", nil, err
	}
	return "repository.html", struct {
		Repository Repository
		Outdated   ProjectsPage
		History    []HistoryEntry
		Chart      template.HTML
		Problems   []ProblemCount
	}{repo, outdated, h, snapshotChart(snaps), problems}, nil
}
