package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/projections"
	dlsql "github.com/deltalog/deltalog/sql"
)

// ErrNotFound is returned for a project, repository or maintainer the
// catalog does not hold.
var ErrNotFound = errors.New("web: not found")

// store runs the read side's queries. It only reads.
type store struct {
	db *pgxpool.Pool
}

// Checkpoint is what every response is a function of.
type Checkpoint struct {
	// Head is the changelog head: the current state (packages) is at it.
	Head int64 `json:"head"`
	// Catalog and History are the projections' checkpoints.
	Catalog int64 `json:"catalog"`
	History int64 `json:"history"`
}

// Seq is the seq up to which every derived table is applied.
func (c Checkpoint) Seq() int64 { return min(c.Catalog, c.History) }

// ETag is a strong entity tag: the same three seqs give the same bytes.
func (c Checkpoint) ETag() string {
	return fmt.Sprintf(`"%d.%d.%d"`, c.Head, c.Catalog, c.History)
}

func (s *store) checkpoint(ctx context.Context) (Checkpoint, error) {
	var c Checkpoint
	err := s.db.QueryRow(ctx, dlsql.Query("web-checkpoint"), projections.CatalogName, projections.HistoryName).
		Scan(&c.Head, &c.Catalog, &c.History)
	if err != nil {
		return c, fmt.Errorf("web: reading checkpoints: %w", err)
	}
	return c, nil
}

// Project is one row of projects.
type Project struct {
	Name          string     `json:"name"`
	NumRepos      int        `json:"num_repos"`
	NumPackages   int        `json:"num_packages"`
	NewestVersion string     `json:"newest_version"`
	NumUpdates    int        `json:"num_updates"`
	FirstSeen     *time.Time `json:"first_seen,omitempty"`
}

// Package is one package of a project, in one repository.
type Package struct {
	Repository  string          `json:"repository"`
	Name        string          `json:"name"`
	Version     string          `json:"version"`
	Status      string          `json:"status"`
	Summary     string          `json:"summary,omitempty"`
	Category    string          `json:"category,omitempty"`
	Maintainers []Maintainer    `json:"maintainers"`
	Links       json.RawMessage `json:"links"`
}

// Maintainer is a package's maintainer as its package names them.
type Maintainer struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

func (s *store) project(ctx context.Context, name string) (Project, error) {
	var p Project
	var first time.Time
	err := s.db.QueryRow(ctx, dlsql.Query("web-project"), name).
		Scan(&p.Name, &p.NumRepos, &p.NumPackages, &p.NewestVersion, &p.NumUpdates, &first)
	p.FirstSeen = &first
	return p, notFound(err, "project %q", name)
}

// scanProjectPackages reads the rows of web-project-packages (err is the
// query's).
func scanProjectPackages(rows pgx.Rows, err error, name string) (Project, []Package, error) {
	var pr Project
	if err != nil {
		return pr, nil, fmt.Errorf("web: project %q: %w", name, err)
	}
	pkgs := []Package{}
	var (
		first                              time.Time
		repo, pname, ver, status, sum, cat *string
		maint, links                       []byte
		found                              bool
	)
	_, err = pgx.ForEachRow(rows, []any{&pr.Name, &pr.NumRepos, &pr.NumPackages, &pr.NewestVersion, &pr.NumUpdates, &first,
		&repo, &pname, &ver, &status, &sum, &cat, &maint, &links}, func() error {
		found = true
		if repo == nil {
			return nil
		}
		p := Package{Repository: *repo, Name: *pname, Version: *ver, Status: *status, Summary: *sum, Category: *cat,
			Links: append(json.RawMessage(nil), links...), Maintainers: []Maintainer{}}
		if err := json.Unmarshal(maint, &p.Maintainers); err != nil {
			return err
		}
		pkgs = append(pkgs, p)
		return nil
	})
	if err != nil {
		return pr, nil, fmt.Errorf("web: project %q: %w", name, err)
	}
	if !found {
		return pr, nil, fmt.Errorf("%w: project %q", ErrNotFound, name)
	}
	pr.FirstSeen = &first
	return pr, pkgs, nil
}

// Repository is one row of repositories.
type Repository struct {
	ID             int32     `json:"-"`
	Name           string    `json:"name"`
	NumPackages    int       `json:"num_packages"`
	NumProjects    int       `json:"num_projects"`
	NumMaintainers int       `json:"num_maintainers"`
	NumNewest      int       `json:"num_newest"`
	NumOutdated    int       `json:"num_outdated"`
	FirstSeen      time.Time `json:"first_seen"`
	LastUpdated    time.Time `json:"last_updated"`
}

func scanRepository(row pgx.Row, r *Repository) error {
	return row.Scan(&r.ID, &r.Name, &r.NumPackages, &r.NumProjects, &r.NumMaintainers, &r.NumNewest, &r.NumOutdated, &r.FirstSeen, &r.LastUpdated)
}

func (s *store) repository(ctx context.Context, name string) (Repository, error) {
	var r Repository
	err := scanRepository(s.db.QueryRow(ctx, dlsql.Query("web-repository"), name), &r)
	return r, notFound(err, "repository %q", name)
}

func (s *store) repositories(ctx context.Context) ([]Repository, error) {
	return collect(ctx, s.db, "repositories", func(row pgx.CollectableRow) (Repository, error) {
		var r Repository
		return r, scanRepository(row, &r)
	}, dlsql.Query("web-repositories"))
}

// MaintainerInfo is one row of maintainers with its per-repository counts.
type MaintainerInfo struct {
	ID           int32                 `json:"-"`
	Email        string                `json:"email"`
	Name         string                `json:"name,omitempty"`
	NumPackages  int                   `json:"num_packages"`
	NumProjects  int                   `json:"num_projects"`
	NumRepos     int                   `json:"num_repos"`
	NumNewest    int                   `json:"num_newest"`
	NumOutdated  int                   `json:"num_outdated"`
	FirstSeen    time.Time             `json:"first_seen"`
	OrphanedAt   *time.Time            `json:"orphaned_at,omitempty"`
	Repositories []MaintainerRepoCount `json:"repositories"`
}

// MaintainerRepoCount is what a maintainer has in one repository.
type MaintainerRepoCount struct {
	Repository  string `json:"repository"`
	NumPackages int    `json:"num_packages"`
	NumProjects int    `json:"num_projects"`
	NumNewest   int    `json:"num_newest"`
	NumOutdated int    `json:"num_outdated"`
}

func (s *store) maintainer(ctx context.Context, email string) (MaintainerInfo, error) {
	var m MaintainerInfo
	err := s.db.QueryRow(ctx, dlsql.Query("web-maintainer"), email).
		Scan(&m.ID, &m.Email, &m.Name, &m.NumPackages, &m.NumProjects, &m.NumRepos, &m.NumNewest, &m.NumOutdated, &m.FirstSeen, &m.OrphanedAt)
	if err := notFound(err, "maintainer %q", email); err != nil {
		return m, err
	}
	m.Repositories, err = collect(ctx, s.db, "repositories of maintainer "+strconv.Quote(email), func(row pgx.CollectableRow) (MaintainerRepoCount, error) {
		var c MaintainerRepoCount
		return c, row.Scan(&c.Repository, &c.NumPackages, &c.NumProjects, &c.NumNewest, &c.NumOutdated)
	}, dlsql.Query("web-maintainer-repositories"), m.ID)
	if err != nil {
		return m, err
	}
	return m, nil
}

func (s *store) maintainerProjects(ctx context.Context, id int32, after string, limit int) ([]string, error) {
	return collect(ctx, s.db, "projects of maintainer", pgx.RowTo[string], dlsql.Query("web-maintainer-projects"), id, after, limit)
}

// HistoryEntry is one row of project_history: a change the changelog
// event Seq caused.
type HistoryEntry struct {
	Seq        int64     `json:"seq"`
	Project    string    `json:"project"`
	Kind       string    `json:"kind"`
	Repository string    `json:"repository,omitempty"`
	OldVersion *string   `json:"old_version,omitempty"`
	NewVersion *string   `json:"new_version,omitempty"`
	At         time.Time `json:"at"`
	// NewestIn is, for a fell_outdated entry of a repository's history,
	// the repository that brought the newer version.
	NewestIn *string `json:"newest_in,omitempty"`
}

// historyOf names the history queries by what they select on.
var historyOf = map[string]string{
	"project":    "web-history",
	"maintainer": "web-history-maintainer",
	"repository": "web-history-repository",
}

// history returns up to limit entries of the subject's history below seq
// before, newest first; key is the project name or the maintainer's or
// repository's id.
func (s *store) history(ctx context.Context, subject string, key any, before int64, limit int) ([]HistoryEntry, error) {
	return collect(ctx, s.db, subject+" history", func(row pgx.CollectableRow) (HistoryEntry, error) {
		var h HistoryEntry
		return h, row.Scan(&h.Seq, &h.Project, &h.Kind, &h.Repository, &h.OldVersion, &h.NewVersion, &h.At, &h.NewestIn)
	}, dlsql.Query(historyOf[subject]), key, before, limit)
}

// Statistics is the catalog's totals.
type Statistics struct {
	NumPackages    int64 `json:"num_packages"`
	NumProjects    int64 `json:"num_projects"`
	NumMaintainers int64 `json:"num_maintainers"`
	NumRepos       int   `json:"num_repos"`
	NumLinks       int64 `json:"num_links"`
}

func (s *store) statistics(ctx context.Context) (Statistics, error) {
	var st Statistics
	err := s.db.QueryRow(ctx, dlsql.Query("web-statistics")).
		Scan(&st.NumPackages, &st.NumProjects, &st.NumMaintainers, &st.NumRepos, &st.NumLinks)
	if err != nil {
		return st, fmt.Errorf("web: statistics: %w", err)
	}
	return st, nil
}

// Batch is one edit batch, for the dashboard.
type Batch struct {
	ID         int64
	Repository string
	Kind       string
	Started    time.Time
	Finished   time.Time
	FirstSeq   int64
	LastSeq    int64
	Counts     map[string]int
	// Timings splits the update's time (nil for batches recorded before
	// the split was).
	Timings *events.BatchTimings
}

// Seconds is how long the batch's update ran.
func (b Batch) Seconds() float64 { return b.Finished.Sub(b.Started).Seconds() }

func (s *store) batches(ctx context.Context, limit int) ([]Batch, error) {
	return collect(ctx, s.db, "batches", func(row pgx.CollectableRow) (Batch, error) {
		var b Batch
		var (
			counts             []byte
			parse, diff, write *float64
		)
		if err := row.Scan(&b.ID, &b.Repository, &b.Kind, &b.Started, &b.Finished, &b.FirstSeq, &b.LastSeq, &counts,
			&parse, &diff, &write); err != nil {
			return b, err
		}
		b.Timings = events.TimingsOf(parse, diff, write)
		return b, json.Unmarshal(counts, &b.Counts)
	}, dlsql.Query("web-batches"), limit)
}

// AuditRun is one audit run's outcome.
type AuditRun struct {
	ID       int64
	Started  time.Time
	Finished time.Time
	HeadSeq  int64
	Outcome  string
	Source   string
	Actor    string
}

func (s *store) auditRuns(ctx context.Context, limit int) ([]AuditRun, error) {
	return collect(ctx, s.db, "audit runs", func(row pgx.CollectableRow) (AuditRun, error) {
		var a AuditRun
		return a, row.Scan(&a.ID, &a.Started, &a.Finished, &a.HeadSeq, &a.Outcome, &a.Source, &a.Actor)
	}, dlsql.Query("web-audit-runs"), limit)
}

// Relation is a table's or an index's size on disk.
type Relation struct {
	Name  string
	Kind  string
	Bytes int64
	Rows  int64
}

func (s *store) relationSizes(ctx context.Context, limit int) ([]Relation, error) {
	return collect(ctx, s.db, "relation sizes", func(row pgx.CollectableRow) (Relation, error) {
		var r Relation
		return r, row.Scan(&r.Name, &r.Kind, &r.Bytes, &r.Rows)
	}, dlsql.Query("web-relation-sizes"), limit)
}

func (s *store) projections(ctx context.Context) ([]projections.Status, error) {
	return projections.ReadStatus(ctx, s.db)
}

// collect runs a query and scans every row with scan; what names the
// rows in errors.
func collect[T any](ctx context.Context, db *pgxpool.Pool, what string, scan func(pgx.CollectableRow) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("web: %s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("web: %s: %w", what, err)
	}
	return out, nil
}

// notFound maps no rows to ErrNotFound, naming what was looked for.
func notFound(err error, format string, args ...any) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: %s", ErrNotFound, fmt.Sprintf(format, args...))
	default:
		return fmt.Errorf("web: %s: %w", fmt.Sprintf(format, args...), err)
	}
}
