package changelog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/version"
	dlsql "github.com/deltalog/deltalog/sql"
)

// ErrNothingToInvalidate is returned when an invalidation's scope holds no
// packageset.
var ErrNothingToInvalidate = errors.New("nothing to invalidate")

// InvalidateParams chooses the packagesets whose stored checksums to forget:
// every one (All), a repository's (Repo), a project's across repositories
// (Project), or one packageset (Repo and Project).
type InvalidateParams struct {
	All     bool
	Repo    string
	Project string
	// Reason says why (a new derived column, a fixed version comparison…).
	Reason string
	// Actor is who asked; default the OS user (see Actor).
	Actor string
}

func (p InvalidateParams) scope() (string, error) {
	switch {
	case p.All && (p.Repo != "" || p.Project != ""):
		return "", errors.New("invalidate: All excludes Repo and Project")
	case p.All:
		return "all", nil
	case p.Repo != "" && p.Project != "":
		return "packageset", nil
	case p.Repo != "":
		return "repo", nil
	case p.Project != "":
		return "project", nil
	}
	return "", errors.New("invalidate: choose All, Repo or Project")
}

// InvalidatedRepo is what an invalidation recorded for one repository.
type InvalidatedRepo struct {
	Repo string `json:"repo"`
	// ID is the invalidations row, claimed by the repository's next update.
	ID int64 `json:"id"`
	// Packagesets in scope, and how many of them were not invalid already.
	Packagesets int `json:"packagesets"`
	Marked      int `json:"marked"`
}

// InvalidateResult lists the repositories an invalidation touched.
type InvalidateResult struct {
	Scope       string            `json:"scope"`
	Reason      string            `json:"reason"`
	Actor       string            `json:"actor"`
	Repos       []InvalidatedRepo `json:"repos"`
	Packagesets int               `json:"packagesets"`
}

// Invalidate forgets the stored checksums of the packagesets in scope
// (packagesets.invalid), so that the next update of each repository in scope
// re-states every one of them as an `invalidated` event carrying its full
// content, and the projections re-derive it. It writes no event itself:
// invalidation is not a change of content. The reason, scope, actor and time
// are recorded as pending, and the update that carries them claims them for
// its batch.
//
// Each repository's update lock is taken (in name order), so an update in
// flight finishes first and an invalidation is never claimed by an update
// that did not see it.
func Invalidate(ctx context.Context, db DB, p InvalidateParams) (*InvalidateResult, error) {
	scope, err := p.scope()
	if err != nil {
		return nil, err
	}
	res := &InvalidateResult{Scope: scope, Reason: p.Reason, Actor: cmp.Or(p.Actor, Actor()), Repos: []InvalidatedRepo{}}
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("invalidate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit

	var repoArg, projectArg *string
	if p.Repo != "" {
		repoArg = &p.Repo
	}
	if p.Project != "" {
		projectArg = &p.Project
	}
	rows, err := tx.Query(ctx, dlsql.Query("invalidate-repos"), repoArg)
	if err != nil {
		return nil, fmt.Errorf("invalidate: %w", err)
	}
	type repo struct {
		id   int32
		name string
	}
	var repos []repo
	var r repo
	if _, err := pgx.ForEachRow(rows, []any{&r.id, &r.name}, func() error {
		repos = append(repos, r)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("invalidate: reading repositories: %w", err)
	}
	if p.Repo != "" && len(repos) == 0 {
		return nil, fmt.Errorf("invalidate: %w: no repository %q", ErrNothingToInvalidate, p.Repo)
	}
	for _, r := range repos {
		if _, err := tx.Exec(ctx, dlsql.Query("repo-lock"), r.name); err != nil {
			return nil, fmt.Errorf("invalidate %s: lock: %w", r.name, err)
		}
		var inScope, marked int
		if err := tx.QueryRow(ctx, dlsql.Query("invalidate-mark"), r.id, projectArg).Scan(&inScope, &marked); err != nil {
			return nil, fmt.Errorf("invalidate %s: %w", r.name, err)
		}
		if inScope == 0 {
			continue
		}
		ir := InvalidatedRepo{Repo: r.name, Packagesets: inScope, Marked: marked}
		if err := tx.QueryRow(ctx, dlsql.Query("invalidate-record"), r.id, scope, projectArg, p.Reason, res.Actor, inScope).
			Scan(&ir.ID); err != nil {
			return nil, fmt.Errorf("invalidate %s: recording: %w", r.name, err)
		}
		res.Repos = append(res.Repos, ir)
		res.Packagesets += inScope
	}
	if len(res.Repos) == 0 {
		what := "the database"
		switch scope {
		case "repo":
			what = "repository " + p.Repo
		case "project":
			what = "any repository for project " + p.Project
		case "packageset":
			what = fmt.Sprintf("repository %s for project %s", p.Repo, p.Project)
		}
		return nil, fmt.Errorf("invalidate: %w: no packageset in %s", ErrNothingToInvalidate, what)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("invalidate: commit: %w", err)
	}
	return res, nil
}

// PendingInvalidation is an invalidation no update has carried yet.
type PendingInvalidation struct {
	Repo          string    `json:"repo"`
	Invalidations int       `json:"invalidations"`
	Packagesets   int64     `json:"packagesets"`
	Since         time.Time `json:"since"`
}

// ReadPendingInvalidations lists, per repository, the invalidations waiting
// for its next update.
func ReadPendingInvalidations(ctx context.Context, q Querier) ([]PendingInvalidation, error) {
	rows, err := q.Query(ctx, dlsql.Query("invalidations-pending"))
	if err != nil {
		return nil, fmt.Errorf("reading pending invalidations: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[PendingInvalidation])
	if err != nil {
		return nil, fmt.Errorf("reading pending invalidations: %w", err)
	}
	return out, nil
}

// Actor names who runs this process, for the records of invalidations,
// audits and re-derivations: the OS user, else $USER, else "unknown".
func Actor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return cmp.Or(os.Getenv("USER"), "unknown")
}

// batchNote is what an update's batch records beyond its counts: its kind
// ("invalidate" when every event re-states content, else "update"), and the
// reason and actor of what made it re-state packagesets — the pending
// invalidations it claims, or a change of hash seed, algorithm or version
// scheme.
type batchNote struct {
	kind          string
	reason, actor string // empty unless invalidations or a re-derivation are claimed
}

func noteBatch(ctx context.Context, tx pgx.Tx, st *Store, repo StoredRepo, p UpdateParams, c events.Counts, batchID int64) (batchNote, error) {
	n := batchNote{kind: "update"}
	var reasons, actors []string
	addActor := func(a string) {
		for _, x := range actors {
			if x == a {
				return
			}
		}
		actors = append(actors, a)
	}
	if repo.HashVersion != 0 { // a repository that existed before this update (write sets only id when creating one)
		var changed []string
		if repo.Seed != p.Seed {
			changed = append(changed, fmt.Sprintf("hash seed %#x → %#x", repo.Seed, p.Seed))
		}
		if repo.HashVersion != hashing.AlgorithmVersion {
			changed = append(changed, fmt.Sprintf("hash algorithm %d → %d", repo.HashVersion, hashing.AlgorithmVersion))
		}
		if repo.Scheme != p.VersionScheme {
			changed = append(changed, fmt.Sprintf("version scheme %s → %s", repo.Scheme, p.VersionScheme))
		}
		if repo.VersionOrder != version.OrderVersion {
			changed = append(changed, fmt.Sprintf("version orders %d → %d", repo.VersionOrder, version.OrderVersion))
		}
		if len(changed) > 0 {
			reasons = append(reasons, "re-derived: "+strings.Join(changed, ", "))
			addActor(Actor())
		}
	}
	// Pending invalidations were read under the repository's lock, which
	// every invalidation takes: without any, there is nothing to claim.
	if repo.HasPending {
		if err := st.Flush(ctx); err != nil {
			return n, err
		}
		rows, err := tx.Query(ctx, dlsql.Query("invalidations-claim"), repo.ID, batchID)
		if err != nil {
			return n, fmt.Errorf("claiming invalidations: %w", err)
		}
		var (
			id                             int64
			scope, project, reason, author string
			at                             time.Time
		)
		if _, err := pgx.ForEachRow(rows, []any{&id, &scope, &project, &reason, &author, &at}, func() error {
			what := "invalidate --" + scope
			switch scope {
			case "repo":
				what += " " + p.Repo
			case "project":
				what += " " + project
			case "packageset":
				what = fmt.Sprintf("invalidate --repo %s --project %s", p.Repo, project)
			case "audit":
				what = "audit --repair"
			}
			r := fmt.Sprintf("%s (#%d, %s)", what, id, at.UTC().Format(time.RFC3339))
			if reason != "" {
				r += ": " + reason
			}
			reasons = append(reasons, r)
			addActor(author)
			return nil
		}); err != nil {
			return n, fmt.Errorf("claiming invalidations: %w", err)
		}
	}
	if len(reasons) > 0 {
		n.reason, n.actor = strings.Join(reasons, "; "), strings.Join(actors, ", ")
		if c.Invalidated > 0 && c.Added+c.Changed+c.Removed == 0 {
			n.kind = "invalidate"
		}
	}
	return n, nil
}
