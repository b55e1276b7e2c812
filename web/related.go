package web

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	dlsql "github.com/deltalog/deltalog/sql"
)

// Related is a project sharing normalized homepage or repository URLs
// with another; Weight counts the URLs they share.
type Related struct {
	Name   string `json:"name"`
	Weight int    `json:"weight"`
}

// maxRelated bounds a project's related list (most shared URLs first).
const maxRelated = 100

// scanRelated reads the rows of web-project-related (err is the query's).
func scanRelated(rows pgx.Rows, err error, name string) ([]Related, error) {
	if err != nil {
		return nil, fmt.Errorf("web: related projects of %q: %w", name, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Related, error) {
		var r Related
		return r, row.Scan(&r.Name, &r.Weight)
	})
	if err != nil {
		return nil, fmt.Errorf("web: related projects of %q: %w", name, err)
	}
	return out, nil
}

// projectView is a project as the API and the dashboard show it: its
// packages, its related projects and, when the name asked for is one the
// project's packages moved away from, that name.
type projectView struct {
	Project        Project   `json:"project"`
	RedirectedFrom string    `json:"redirected_from,omitempty"`
	Packages       []Package `json:"packages"`
	Related        []Related `json:"related"`
}

// projectView looks name up; a name that is no project (any more) but
// has a redirect (its packages moved to another project) gives the
// project the redirects lead to, with RedirectedFrom set — one answer, no
// second request, as API clients of catalogs expect a renamed project to
// be found.
func (s *store) projectView(ctx context.Context, name string) (projectView, error) {
	v, err := s.readProjectView(ctx, name)
	if !errors.Is(err, ErrNotFound) {
		return v, err
	}
	var to string
	if rerr := s.db.QueryRow(ctx, dlsql.Query("web-project-redirect"), name).Scan(&to); rerr != nil {
		if errors.Is(rerr, pgx.ErrNoRows) {
			return v, err
		}
		return v, fmt.Errorf("web: redirect of %q: %w", name, rerr)
	}
	v, err = s.readProjectView(ctx, to)
	v.RedirectedFrom = name
	return v, err
}

// readProjectView reads the project, its packages and its related projects
// in one round trip on one connection: under load a lookup's time is round
// trips and pool hand-overs, not the queries.
func (s *store) readProjectView(ctx context.Context, name string) (projectView, error) {
	v := projectView{}
	b := &pgx.Batch{}
	b.Queue(dlsql.Query("web-project-packages"), name)
	b.Queue(dlsql.Query("web-project-related"), name, maxRelated)
	br := s.db.SendBatch(ctx, b)
	rows, err := br.Query()
	v.Project, v.Packages, err = scanProjectPackages(rows, err, name)
	if err == nil {
		rows, rerr := br.Query()
		v.Related, err = scanRelated(rows, rerr, name)
	}
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("web: project %q: %w", name, cerr)
	}
	if err != nil {
		return projectView{}, err
	}
	return v, nil
}
