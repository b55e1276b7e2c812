package projections

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/events"
	dlsql "github.com/deltalog/deltalog/sql"
)

// CatalogName is the name of the catalog projection.
const CatalogName = "catalog"

// The catalog's tables in the order they are derived: each level reads only
// the levels before it.
var (
	// Level 1 is keyed by (project, repository): the pairs in scope (see
	// catalog-scope-moved). Links do not depend on the newest version: only
	// the pairs where an event moved a URL's count re-derive them.
	byPair       = "(t.project, t.repo_id) IN (SELECT project, repo_id FROM t_pairs)"
	byLinkedPair = "(t.project, t.repo_id) IN (SELECT project, repo_id FROM t_pairs WHERE links)"

	catalogLevel1 = []table{
		{name: "project_repositories", keys: []string{"project", "repo_id"},
			values:   []string{"num_packages", "num_newest", "num_outdated", "best_version"},
			expected: "expect-project-repositories", scope: byPair},
		{name: "project_maintainers", keys: []string{"project", "maintainer_id", "repo_id"},
			values:   []string{"name", "num_packages", "num_newest", "num_outdated"},
			expected: "expect-project-maintainers", scope: byPair},
		{name: "project_links", keys: []string{"project", "repo_id", "link_id"}, values: []string{"refcount"},
			expected: "expect-project-links", scope: byLinkedPair},
		projectCategories,
	}
	// On the delta path only projects is recomputed per key; the others
	// move by counter differences (applyLevel2). expect-* define them all,
	// for the audit and rebuilds.
	catalogLevel2 = []table{
		{name: "maintainer_repositories", keys: []string{"maintainer_id", "repo_id"},
			values:   []string{"num_packages", "num_projects", "num_newest", "num_outdated"},
			expected: "expect-maintainer-repositories", scope: "t.maintainer_id IN (SELECT id FROM t_maintainers)"},
		{name: "projects", keys: []string{"name"}, orphans: true,
			values:   []string{"num_repos", "num_packages", "newest_version", "newest_key", "num_updates"},
			expected: "expect-projects", scope: "t.name IN (SELECT project FROM t_projects)"},
		{name: "maintainers", keys: []string{"id"}, orphans: true,
			values: []string{"email", "name", "num_packages", "num_projects", "num_repos", "num_newest",
				"num_outdated", "repo_counts"},
			expected: "expect-maintainers", scope: "t.id IN (SELECT id FROM t_maintainers)"},
		{name: "links", keys: []string{"id"}, orphans: true, values: []string{"url", "refcount"},
			expected: "expect-links", scope: "t.id IN (SELECT id FROM t_links)",
			carried: []string{"normalized_url", "https_host"}, triggers: []string{"links_derive_urls", "links_derive_urls_again"}},
		categoryProjects, repositoryCategories,
	}
	// Kept by counter deltas on the delta path; defined in full for the audit.
	// The related projects (applyRelated) and the problems (problems.go,
	// last: they read every level) follow in the audit's and rebuilds' lists.
	catalogTotals = slices.Concat([]table{
		{name: "repositories", keys: []string{"id"},
			values:   []string{"name", "num_packages", "num_projects", "num_maintainers", "num_newest", "num_outdated", "last_updated"},
			expected: "expect-repositories", scope: "true"},
		{name: "statistics", keys: []string{"singleton"},
			values:   []string{"num_packages", "num_projects", "num_maintainers", "num_repos", "num_links"},
			expected: "expect-statistics", scope: "true"},
	}, relatedTables, problemTables)
)

// CatalogConfig configures the catalog projection.
type CatalogConfig struct {
	// CacheSize bounds each id cache (maintainer emails, link URLs), in
	// entries. Default 100000.
	CacheSize int
}

// Catalog keeps repositories, projects, maintainers, links, their binding
// tables and statistics.
type Catalog struct {
	maintainers *idCache
	links       *idCache
	// schema holds the tables Apply writes (empty: the live ones); a
	// rebuild's catalog writes its shadow schema.
	schema string
}

// NewCatalog returns the catalog projection.
func NewCatalog(cfg CatalogConfig) (*Catalog, error) {
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 100_000
	}
	if cfg.CacheSize < 0 {
		return nil, fmt.Errorf("projections: CacheSize %d must be positive", cfg.CacheSize)
	}
	m, err := newIDCache(cfg.CacheSize)
	if err != nil {
		return nil, err
	}
	l, err := newIDCache(cfg.CacheSize)
	if err != nil {
		return nil, err
	}
	return &Catalog{maintainers: m, links: l}, nil
}

// Name implements Projection.
func (c *Catalog) Name() string { return CatalogName }

// DerivedFromState reports that the catalog's tables are a function of the
// current state alone: a runner far behind rebuilds it from state.
func (c *Catalog) DerivedFromState() bool { return true }

// CacheStats implements Projection.
func (c *Catalog) CacheStats() map[string]CacheStats {
	return map[string]CacheStats{"maintainers": c.maintainers.stats(), "links": c.links.stats()}
}

// Apply recomputes the level-1 rows of every (project, repository) the
// page touched — and, for the projects whose newest version moved, of the
// pairs whose counts move with it — and the projects rows of the touched
// projects, then moves maintainers, links, repositories and the global
// totals by the differences those rows made.
func (c *Catalog) Apply(ctx context.Context, tx pgx.Tx, page *Page) (func(), error) {
	type pair struct {
		project string
		repo    int32
	}
	// Per pair: whether an event of the page moved the count of a URL among
	// its packages (project_links can change only then).
	pairs := map[pair]bool{}
	emails := map[string]struct{}{}
	urls := map[string]struct{}{}
	seen := map[int32]time.Time{}
	for _, ev := range page.Events {
		r, ok := page.Repos[ev.Repo]
		if !ok {
			return nil, fmt.Errorf("event %d: unknown repository %q", ev.Seq, ev.Repo)
		}
		k := pair{ev.Project, r.ID}
		pairs[k] = pairs[k] || linksMove(ev)
		if at := page.BatchTimes[ev.Batch]; at.After(seen[r.ID]) {
			seen[r.ID] = at
		}
		for _, side := range [][]events.Package{ev.Removed, ev.Added} {
			for i := range side {
				for _, m := range side[i].Maintainers {
					emails[m.Email] = struct{}{}
				}
				for _, l := range side[i].Links {
					urls[l.URL] = struct{}{}
				}
			}
		}
	}
	projects := make([]string, 0, len(pairs))
	repos := make([]int32, 0, len(pairs))
	links := make([]bool, 0, len(pairs))
	for p, l := range pairs {
		projects, repos, links = append(projects, p.project), append(repos, p.repo), append(links, l)
	}

	sch := deltaSchemas(c.schema)
	mPending, err := c.maintainers.ensure(ctx, tx, dlsql.Render("catalog-maintainer-ids", sch), keys(emails))
	if err != nil {
		return nil, fmt.Errorf("resolving maintainers: %w", err)
	}
	lPending, err := c.links.ensure(ctx, tx, dlsql.Render("catalog-link-ids", sch), keys(urls))
	if err != nil {
		return nil, fmt.Errorf("resolving links: %w", err)
	}

	// The scratch tables live as long as the connection: declared by its
	// first page, they cost later pages one probe.
	var declared bool
	if err := tx.QueryRow(ctx, dlsql.Query("catalog-scope-declared")).Scan(&declared); err != nil {
		return nil, fmt.Errorf("catalog-scope-declared: %w", err)
	}
	if !declared {
		if err := timedExec(ctx, tx, "catalog-scope", dlsql.Render("catalog-scope", sch)); err != nil {
			return nil, err
		}
	}
	if err := timedExec(ctx, tx, "catalog-scope-pairs", dlsql.Render("catalog-scope-pairs", sch),
		projects, repos, links); err != nil {
		return nil, err
	}
	// Everything else but the repositories' times goes in two scripts
	// (one round trip each): the problems' plan depends on how many pairs
	// the first found in scope.
	var s script
	// The newest versions are read before the page's copy of packages.
	for _, q := range []string{"catalog-newest", "catalog-scope-moved", "catalog-scope-packages"} {
		s.exec(q, dlsql.Render(q, sch))
	}
	for _, tb := range catalogLevel1 {
		tb.sync(ctx, &s, sch)
	}
	applyLevel2(ctx, &s, sch)
	applyRelated(ctx, &s, sch)
	applyCategories(ctx, &s, sch)
	var inScope int64
	s.count("problems", "SELECT count(*) FROM t_pairs", func(n int64) { inScope = n })
	if err := s.run(ctx, tx); err != nil {
		return nil, err
	}
	// What the statistics know matters only to a large page: a small one
	// does not ask.
	known := int64(-1)
	if inScope >= analyzeLevelsPairs {
		if err := tx.QueryRow(ctx, dlsql.Render("problems-levels-known", sch)).Scan(&known); err != nil {
			return nil, fmt.Errorf("problems-levels-known: %w", err)
		}
	}
	applyProblems(ctx, &s, sch, inScope, known)
	if err := s.run(ctx, tx); err != nil {
		return nil, err
	}

	repoIDs := make([]int32, 0, len(seen))
	times := make([]time.Time, 0, len(seen))
	for id, at := range seen {
		repoIDs, times = append(repoIDs, id), append(times, at)
	}
	n, err := timedRows(ctx, tx, "repositories", dlsql.Render("catalog-repositories-delta", sch), repoIDs, times)
	if err != nil {
		return nil, err
	}
	statsFrom(ctx).add("repositories", n, n)
	if n, err = timedRows(ctx, tx, "statistics", dlsql.Render("catalog-statistics-delta", sch)); err != nil {
		return nil, err
	}
	statsFrom(ctx).add("statistics", n, n)
	if err := c.snapshot(ctx, tx, page); err != nil {
		return nil, err
	}
	return func() {
		c.maintainers.commit(mPending)
		c.links.commit(lPending)
	}, nil
}

// applyLevel2 brings the level-2 tables up to date on the delta path:
// projects recomputed per touched project; maintainer_repositories,
// maintainers and links moved by the counter differences of level 1, so
// that a maintainer or link of many projects costs no more than one of few.
func applyLevel2(ctx context.Context, s *script, sch dlsql.Schemas) {
	byName := map[string]table{}
	for _, tb := range catalogLevel2 {
		byName[tb.name] = tb
	}
	s.exec("maintainer_repositories", dlsql.Render("catalog-maintainer-repositories-delta", sch))
	// Every row of the differences moves a row (counters only move where
	// they differ): re-derived and changed are the same rows.
	countDifferences(ctx, s, "maintainer_repositories")
	byName["projects"].sync(ctx, s, sch)
	for _, tb := range []string{"maintainers", "links"} {
		s.exec(tb, dlsql.Render("catalog-"+tb+"-delta", sch))
		byName[tb].write(ctx, s, sch.Schema)
	}
}

// countDifferences counts the rows of d_<table> as both re-derived and
// changed: for a table moved by counter differences, every row of the
// differences moves a row.
func countDifferences(ctx context.Context, s *script, table string) {
	stats := statsFrom(ctx)
	s.count(table, "SELECT count(*) FROM d_"+table, func(n int64) { stats.add(table, n, n) })
}

// linksMove reports whether ev changes how many of the packageset's
// packages carry some URL. A project_links row is a count of such packages,
// and it changes by exactly what an event adds less what it removes; an
// event that moves no count (a version bump) cannot change one, whatever the
// state the rows are re-derived from.
func linksMove(ev events.Event) bool {
	net := map[string]int{}
	for sign, side := range map[int][]events.Package{-1: ev.Removed, +1: ev.Added} {
		for i := range side {
			for j, l := range side[i].Links {
				if !slices.ContainsFunc(side[i].Links[:j], func(o events.Link) bool { return o.URL == l.URL }) {
					net[l.URL] += sign
				}
			}
		}
	}
	for _, n := range net {
		if n != 0 {
			return true
		}
	}
	return false
}

func keys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// idCache maps natural keys (emails, URLs) to surrogate ids. Entries learnt
// inside a transaction are held back until it commits.
type idCache struct {
	lru          *lru.Cache[string, int32]
	hits, misses atomic.Uint64
}

func newIDCache(size int) (*idCache, error) {
	l, err := lru.New[string, int32](size)
	if err != nil {
		return nil, err
	}
	return &idCache{lru: l}, nil
}

// ensure makes sure every name has its id (query: the SQL, names in, (id,
// name) rows out, creating missing ones), asking the database only for names not
// cached: the level-1 definitions join maintainers and links by their
// natural keys. The ids learnt are returned as pending, to cache after the
// transaction commits.
func (c *idCache) ensure(ctx context.Context, tx pgx.Tx, query string, names []string) (map[string]int32, error) {
	var missing []string
	for _, n := range names {
		if _, ok := c.lru.Get(n); ok {
			c.hits.Add(1)
		} else {
			missing = append(missing, n)
			c.misses.Add(1)
		}
	}
	pending := map[string]int32{}
	if len(missing) == 0 {
		return pending, nil
	}
	rows, err := tx.Query(ctx, query, missing)
	if err != nil {
		return nil, err
	}
	var id int32
	var name string
	if _, err := pgx.ForEachRow(rows, []any{&id, &name}, func() error {
		pending[name] = id
		return nil
	}); err != nil {
		return nil, err
	}
	if len(pending) != len(missing) {
		return nil, fmt.Errorf("resolved %d of %d names", len(pending), len(missing))
	}
	return pending, nil
}

func (c *idCache) commit(pending map[string]int32) {
	for k, v := range pending {
		c.lru.Add(k, v)
	}
}

func (c *idCache) stats() CacheStats {
	return CacheStats{Size: c.lru.Len(), Hits: c.hits.Load(), Misses: c.misses.Load()}
}
