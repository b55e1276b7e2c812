package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/projections"
	dlsql "github.com/deltalog/deltalog/sql"
)

// Problem is one problem of a package (the catalog's problems table).
type Problem struct {
	Project     string          `json:"project"`
	Name        string          `json:"name"`
	Kind        string          `json:"kind"`
	Data        json.RawMessage `json:"data"`
	Maintainers []string        `json:"maintainers"`
}

// ProblemCount is how many problems of one kind there are.
type ProblemCount struct {
	Kind        string `json:"kind"`
	NumProblems int    `json:"num_problems"`
}

// ProblemsPage is a page of a repository's problems, its counts by kind
// and the cursor of the next page.
type ProblemsPage struct {
	Repository string         `json:"repository"`
	Counts     []ProblemCount `json:"counts"`
	Problems   []Problem      `json:"problems"`
	// Next is the after parameter of the next page; empty on the last.
	Next string `json:"next,omitempty"`
}

// problemCursor is the key a page of problems ends at, opaque to clients
// (base64url of a JSON array: project, name, kind).
type problemCursor [3]string

func (c problemCursor) String() string {
	b, _ := json.Marshal(c[:])
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseProblemCursor(s string) (problemCursor, error) {
	var c problemCursor
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var parts []string
	if err == nil {
		err = json.Unmarshal(b, &parts)
	}
	if err != nil || len(parts) != 3 {
		return c, &badRequest{fmt.Sprintf("parameter after: %q is not a cursor this API gave", s)}
	}
	copy(c[:], parts)
	return c, nil
}

// apiRepositoryProblems serves GET /api/v1/repository/{name}/problems:
// ?after= (the cursor of the previous page), ?limit=, ?kind= (one kind).
func (s *Server) apiRepositoryProblems(ctx context.Context, r *http.Request, c Checkpoint) ([]byte, string, error) {
	q := r.URL.Query()
	limit, err := intParam(q, "limit", s.cfg.DefaultLimit, 1, s.cfg.MaxLimit)
	if err != nil {
		return nil, "", err
	}
	after, err := parseProblemCursor(q.Get("after"))
	if err != nil {
		return nil, "", err
	}
	kind := q.Get("kind")
	if kind != "" && !slices.Contains(projections.ProblemKinds, kind) {
		return nil, "", &badRequest{fmt.Sprintf("parameter kind: %q is none of %v", kind, projections.ProblemKinds)}
	}
	repo, err := s.store.repository(ctx, r.PathValue("name"))
	if err != nil {
		return nil, "", err
	}
	page := ProblemsPage{Repository: repo.Name}
	if page.Counts, err = s.store.problemCounts(ctx, "web-repository-problem-counts", repo.ID); err != nil {
		return nil, "", err
	}
	page.Problems, err = collect(ctx, s.store.db, "problems of repository "+repo.Name, func(row pgx.CollectableRow) (Problem, error) {
		var p Problem
		return p, row.Scan(&p.Project, &p.Name, &p.Kind, &p.Data, &p.Maintainers)
	}, dlsql.Query("web-repository-problems"), repo.ID, after[0], after[1], after[2], kind, limit+1)
	if err != nil {
		return nil, "", err
	}
	if len(page.Problems) > limit {
		page.Problems = page.Problems[:limit]
		last := page.Problems[limit-1]
		page.Next = problemCursor{last.Project, last.Name, last.Kind}.String()
	}
	return jsonBody(c, page)
}

// apiMaintainerProblems serves GET /api/v1/maintainer/{email}/problems:
// the maintainer's counts by kind.
func (s *Server) apiMaintainerProblems(ctx context.Context, r *http.Request, c Checkpoint) ([]byte, string, error) {
	m, err := s.store.maintainer(ctx, r.PathValue("email"))
	if err != nil {
		return nil, "", err
	}
	counts, err := s.store.problemCounts(ctx, "web-maintainer-problem-counts", m.ID)
	if err != nil {
		return nil, "", err
	}
	return jsonBody(c, struct {
		Maintainer string         `json:"maintainer"`
		Counts     []ProblemCount `json:"counts"`
	}{m.Email, counts})
}

// problemCounts runs query (the counts of a repository or a maintainer by
// id) and returns a count for every kind, zeros included, in the order of
// projections.ProblemKinds.
func (s *store) problemCounts(ctx context.Context, query string, id int32) ([]ProblemCount, error) {
	found, err := collect(ctx, s.db, "problem counts", func(row pgx.CollectableRow) (ProblemCount, error) {
		var pc ProblemCount
		return pc, row.Scan(&pc.Kind, &pc.NumProblems)
	}, dlsql.Query(query), id)
	if err != nil {
		return nil, err
	}
	out := make([]ProblemCount, len(projections.ProblemKinds))
	for i, k := range projections.ProblemKinds {
		out[i].Kind = k
		for _, f := range found {
			if f.Kind == k {
				out[i].NumProblems = f.NumProblems
			}
		}
	}
	return out, nil
}
