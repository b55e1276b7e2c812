package changelog

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/version"
)

// CopyPackages writes n rows into packages with COPY; row(i) gives the i-th
// package and its key (its checksum under the repository's seed). This is
// the one definition of a packages row, shared by the updater and by
// followers that apply a leader's changelog.
func CopyPackages(ctx context.Context, tx pgx.Tx, repoID int32, scheme version.Scheme, n int,
	row func(i int) (hashing.Sum, *events.Package)) error {
	i := 0
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"packages"},
		[]string{"repo_id", "project", "checksum", "name", "version", "version_key", "summary", "category",
			"maintainers", "links", "extra"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			key, p := row(i)
			i++
			maintainers, err := json.Marshal(nonNil(p.Maintainers))
			if err != nil {
				return nil, err
			}
			links, err := json.Marshal(nonNil(p.Links))
			if err != nil {
				return nil, err
			}
			extra := p.Extra
			if extra == nil {
				extra = map[string]string{}
			}
			extraJSON, err := json.Marshal(extra)
			if err != nil {
				return nil, err
			}
			return []any{repoID, p.Project, key.Int64(), p.Name, p.Version, version.SchemeKey(scheme, p.Version),
				p.Summary, p.Category, maintainers, links, extraJSON}, nil
		}))
	if err != nil {
		return fmt.Errorf("copying packages: %w", err)
	}
	return nil
}

// CopyEvents appends evs (seq and batch already set) to the changelog with
// COPY. The caller holds the append lock (see the package doc).
func CopyEvents(ctx context.Context, tx pgx.Tx, repoID int32, evs []events.Event) error {
	i := 0
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"changelog"},
		[]string{"seq", "batch_id", "repo_id", "project", "kind", "old_checksum", "new_checksum", "removed", "added"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(evs) {
				return nil, nil
			}
			ev := &evs[i]
			i++
			removed, err := json.Marshal(nonNil(ev.Removed))
			if err != nil {
				return nil, err
			}
			added, err := json.Marshal(nonNil(ev.Added))
			if err != nil {
				return nil, err
			}
			oldSum, err := sumOrNil(ev.OldChecksum)
			if err != nil {
				return nil, fmt.Errorf("event %d: old checksum: %w", ev.Seq, err)
			}
			newSum, err := sumOrNil(ev.NewChecksum)
			if err != nil {
				return nil, fmt.Errorf("event %d: new checksum: %w", ev.Seq, err)
			}
			return []any{ev.Seq, ev.Batch, repoID, ev.Project, string(ev.Kind), oldSum, newSum, removed, added}, nil
		}))
	if err != nil {
		return fmt.Errorf("appending events: %w", err)
	}
	return nil
}

// sumOrNil converts a rendered checksum to its column value (NULL when
// absent).
func sumOrNil(s string) (any, error) {
	if s == "" {
		return nil, nil
	}
	v, err := hashing.ParseSum(s)
	if err != nil {
		return nil, err
	}
	return v.Int64(), nil
}
