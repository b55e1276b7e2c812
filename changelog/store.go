package changelog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/version"
	dlsql "github.com/deltalog/deltalog/sql"
)

// DBTX is what a Store writes through: a transaction (pgx.Tx), or a
// connection inside one.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// Store is the one writer of the current state (repos, packages,
// packagesets), of batch records and of the changelog's rows. The updater
// and a follower applying a leader's changelog both write through it, so a
// follower's rows are by construction the rows its leader wrote.
//
// A Store works inside the caller's transaction; the caller commits.
type Store struct {
	tx DBTX
}

// NewStore returns a Store writing through tx.
func NewStore(tx DBTX) *Store { return &Store{tx: tx} }

// RepoState is a repository's state after a batch: its state checksum,
// sizes, and what its checksums and version keys were computed with.
type RepoState struct {
	State       hashing.State
	Packages    int
	Packagesets int
	Seed        uint64
	HashVersion int
	Scheme      events.VersionScheme
	// Buckets is the state checksum by bucket (empty: not known).
	Buckets Buckets
}

// StoredRepo is a repository as stored. ID 0 means it does not exist.
type StoredRepo struct {
	ID int32
	RepoState
	// VersionOrder is the version.OrderVersion its version keys were
	// computed with (SetRepoState records this code's).
	VersionOrder int
	// HasInvalid says packagesets wait to be re-derived.
	HasInvalid bool
}

// LockRepo serializes writers of one repository until the transaction ends.
func (s *Store) LockRepo(ctx context.Context, name string) error {
	if _, err := s.tx.Exec(ctx, dlsql.Query("repo-lock"), name); err != nil {
		return fmt.Errorf("locking repository %s: %w", name, err)
	}
	return nil
}

// Repo reads a repository's state; a repository that does not exist has
// ID 0.
func (s *Store) Repo(ctx context.Context, name string) (StoredRepo, error) {
	var r StoredRepo
	var state, seed int64
	var buckets []int64
	err := s.tx.QueryRow(ctx, dlsql.Query("repo-get"), name).
		Scan(&r.ID, &state, &r.Packages, &r.Packagesets, &seed, &r.HashVersion, &r.Scheme, &r.VersionOrder, &r.HasInvalid, &buckets)
	if errors.Is(err, pgx.ErrNoRows) {
		return StoredRepo{}, nil
	}
	if err != nil {
		return StoredRepo{}, fmt.Errorf("reading repository %s: %w", name, err)
	}
	r.State, r.Seed, r.Buckets = hashing.State(state), uint64(seed), BucketsOf(buckets)
	return r, nil
}

// CreateRepoParams is a new repository.
type CreateRepoParams struct {
	Name        string
	Seed        uint64
	HashVersion int
	Scheme      events.VersionScheme
}

// CreateRepo inserts a repository and returns its id.
func (s *Store) CreateRepo(ctx context.Context, p CreateRepoParams) (int32, error) {
	var id int32
	if err := s.tx.QueryRow(ctx, dlsql.Query("repo-create"), p.Name, int64(p.Seed), p.HashVersion, string(p.Scheme)).
		Scan(&id); err != nil {
		return 0, fmt.Errorf("creating repository %s: %w", p.Name, err)
	}
	return id, nil
}

// SetRepoStateParams is a repository's state after a batch.
type SetRepoStateParams struct {
	RepoID int32
	RepoState
}

// SetRepoState writes a repository's state. It records version.OrderVersion
// as the repository's version order: the Store computes every version key
// it writes with this code.
func (s *Store) SetRepoState(ctx context.Context, p SetRepoStateParams) error {
	if _, err := s.tx.Exec(ctx, dlsql.Query("repo-set-state"), p.RepoID, int64(p.State), p.Packages, p.Packagesets,
		int64(p.Seed), p.HashVersion, string(p.Scheme), version.OrderVersion, p.Buckets.Int64s()); err != nil {
		return fmt.Errorf("updating repository state: %w", err)
	}
	return nil
}

// GlobalState sums every repository's state checksum.
func (s *Store) GlobalState(ctx context.Context) (hashing.Sum, error) {
	return globalState(ctx, s.tx)
}

func globalState(ctx context.Context, q Querier) (hashing.Sum, error) {
	var states []int64
	if err := q.QueryRow(ctx, dlsql.Query("global-state")).Scan(&states); err != nil {
		return 0, fmt.Errorf("reading global state: %w", err)
	}
	var g hashing.State
	for _, s := range states {
		g = g.Add(hashing.Sum(s))
	}
	return g.Sum(), nil
}

// StoredSet is a packageset as stored.
type StoredSet struct {
	Sum hashing.Sum
	// Invalid says its checksum was forgotten (see Invalidate).
	Invalid bool
}

// PackagesetsParams selects stored packagesets of one repository.
type PackagesetsParams struct {
	RepoID int32
	// Projects limits the read to these packagesets, Buckets to those of
	// these bucket ranges; with neither, all are read.
	Projects []string
	Buckets  []BucketRange
}

// Packagesets reads stored packagesets by project.
func (s *Store) Packagesets(ctx context.Context, p PackagesetsParams) (map[string]StoredSet, error) {
	var rows pgx.Rows
	var err error
	switch {
	case p.Projects != nil:
		rows, err = s.tx.Query(ctx, dlsql.Query("packagesets-of-projects"), p.RepoID, p.Projects)
	case p.Buckets != nil:
		lo, hi := make([]int32, len(p.Buckets)), make([]int32, len(p.Buckets))
		for i, r := range p.Buckets {
			lo[i], hi[i] = int32(r.Lo), int32(r.Hi)
		}
		rows, err = s.tx.Query(ctx, dlsql.Query("packagesets-of-buckets"), p.RepoID, lo, hi)
	default:
		rows, err = s.tx.Query(ctx, dlsql.Query("packagesets-of-repo"), p.RepoID)
	}
	if err != nil {
		return nil, fmt.Errorf("reading packagesets: %w", err)
	}
	out := make(map[string]StoredSet, len(p.Projects))
	var (
		project string
		sum     int64
		invalid bool
	)
	if _, err := pgx.ForEachRow(rows, []any{&project, &sum, &invalid}, func() error {
		out[project] = StoredSet{Sum: hashing.Sum(sum), Invalid: invalid}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading packagesets: %w", err)
	}
	return out, nil
}

// InvalidBuckets returns the buckets of a repository that hold
// invalidated packagesets.
func (s *Store) InvalidBuckets(ctx context.Context, repoID int32) ([]uint16, error) {
	rows, err := s.tx.Query(ctx, dlsql.Query("packagesets-invalid-buckets"), repoID)
	if err != nil {
		return nil, fmt.Errorf("reading invalidated packagesets: %w", err)
	}
	buckets, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (uint16, error) {
		var b int32
		err := r.Scan(&b)
		return uint16(b), err
	})
	if err != nil {
		return nil, fmt.Errorf("reading invalidated packagesets: %w", err)
	}
	return buckets, nil
}

// StoredPackage is a row of the packages table.
type StoredPackage struct {
	// Key is the checksum column, computed with the repository's stored
	// seed.
	Key     hashing.Sum
	Package events.Package
}

// PackagesParams selects the stored packages of some packagesets.
type PackagesParams struct {
	RepoID   int32
	Projects []string
	// KeysOnly reads only the keys (Package holds only Project): enough
	// to compare rows by key.
	KeysOnly bool
}

// Packages reads the stored packages of the given packagesets, by project.
func (s *Store) Packages(ctx context.Context, p PackagesParams) (map[string][]StoredPackage, error) {
	out := make(map[string][]StoredPackage, len(p.Projects))
	if len(p.Projects) == 0 {
		return out, nil
	}
	if p.KeysOnly {
		rows, err := s.tx.Query(ctx, dlsql.Query("package-keys-of-projects"), p.RepoID, p.Projects)
		if err != nil {
			return nil, fmt.Errorf("reading packages: %w", err)
		}
		var sp StoredPackage
		var key int64
		if _, err := pgx.ForEachRow(rows, []any{&sp.Package.Project, &key}, func() error {
			sp.Key = hashing.Sum(key)
			out[sp.Package.Project] = append(out[sp.Package.Project], sp)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("reading packages: %w", err)
		}
		return out, nil
	}
	rows, err := s.tx.Query(ctx, dlsql.Query("packages-of-projects"), p.RepoID, p.Projects)
	if err != nil {
		return nil, fmt.Errorf("reading packages: %w", err)
	}
	var (
		key                       int64
		maintainers, links, extra []byte
		pkg                       events.Package
	)
	if _, err := pgx.ForEachRow(rows, []any{&pkg.Project, &key, &pkg.Name, &pkg.Version, &pkg.Summary, &pkg.Category,
		&maintainers, &links, &extra}, func() error {
		sp := StoredPackage{Key: hashing.Sum(key), Package: pkg}
		if err := decodePackage(&sp.Package, maintainers, links, extra); err != nil {
			return fmt.Errorf("package %s/%s: %w", pkg.Project, pkg.Name, err)
		}
		out[pkg.Project] = append(out[pkg.Project], sp)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading packages: %w", err)
	}
	return out, nil
}

// decodePackage fills p's lists from their stored JSON columns.
func decodePackage(p *events.Package, maintainers, links, extra []byte) error {
	p.Maintainers, p.Links, p.Extra = nil, nil, nil
	if err := json.Unmarshal(maintainers, &p.Maintainers); err != nil {
		return fmt.Errorf("maintainers: %w", err)
	}
	if err := json.Unmarshal(links, &p.Links); err != nil {
		return fmt.Errorf("links: %w", err)
	}
	if err := json.Unmarshal(extra, &p.Extra); err != nil {
		return fmt.Errorf("extra: %w", err)
	}
	p.Normalize()
	return nil
}

// PackageKey names a packages row.
type PackageKey struct {
	Project string
	Key     hashing.Sum
}

// PackageRow is a packages row to insert.
type PackageRow struct {
	Key     hashing.Sum
	Package *events.Package
}

// SetRow is a packagesets row to write.
type SetRow struct {
	Project  string
	Sum      hashing.Sum
	Packages int
}

// RowsParams are the current-state row writes of one repository.
type RowsParams struct {
	RepoID int32
	// Scheme computes the version keys of inserted packages.
	Scheme         events.VersionScheme
	DeletePackages []PackageKey
	InsertPackages []PackageRow
	DeleteSets     []string
	// UpdateSets rewrites existing packagesets (and clears their invalid
	// mark); InsertSets adds new ones.
	UpdateSets, InsertSets []SetRow
}

// Rows reports how many rows p writes.
func (p *RowsParams) Rows() int64 {
	return int64(len(p.DeletePackages) + len(p.InsertPackages) + len(p.DeleteSets) + len(p.UpdateSets) + len(p.InsertSets))
}

// WriteRows applies row writes. A row inserted that exists already fails
// with PostgreSQL's unique violation (a *pgconn.PgError naming the table).
func (s *Store) WriteRows(ctx context.Context, p RowsParams) error {
	if len(p.DeletePackages) > 0 {
		projects := make([]string, len(p.DeletePackages))
		keys := make([]int64, len(p.DeletePackages))
		for i, k := range p.DeletePackages {
			projects[i], keys[i] = k.Project, k.Key.Int64()
		}
		if _, err := s.tx.Exec(ctx, dlsql.Query("packages-delete"), p.RepoID, projects, keys); err != nil {
			return fmt.Errorf("deleting packages: %w", err)
		}
	}
	if len(p.InsertPackages) > 0 {
		if err := s.copyPackages(ctx, p.RepoID, p.Scheme, p.InsertPackages); err != nil {
			return err
		}
	}
	if len(p.DeleteSets) > 0 {
		if _, err := s.tx.Exec(ctx, dlsql.Query("packagesets-delete"), p.RepoID, p.DeleteSets); err != nil {
			return fmt.Errorf("deleting packagesets: %w", err)
		}
	}
	if len(p.UpdateSets) > 0 {
		projects := make([]string, len(p.UpdateSets))
		sums := make([]int64, len(p.UpdateSets))
		counts := make([]int32, len(p.UpdateSets))
		for i, r := range p.UpdateSets {
			projects[i], sums[i], counts[i] = r.Project, r.Sum.Int64(), int32(r.Packages)
		}
		if _, err := s.tx.Exec(ctx, dlsql.Query("packagesets-update"), p.RepoID, projects, sums, counts); err != nil {
			return fmt.Errorf("updating packagesets: %w", err)
		}
	}
	if len(p.InsertSets) > 0 {
		if err := copyRows(ctx, s.tx, "packagesets", []string{"repo_id", "project", "checksum", "num_packages"},
			p.InsertSets, func(r *SetRow) ([]any, error) {
				return []any{p.RepoID, r.Project, r.Sum.Int64(), int32(r.Packages)}, nil
			}); err != nil {
			return fmt.Errorf("copying packagesets: %w", err)
		}
	}
	return nil
}

// copyRows writes one row per item into table with COPY.
func copyRows[T any](ctx context.Context, tx DBTX, table string, columns []string, items []T,
	row func(*T) ([]any, error)) error {
	i := 0
	_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(items) {
			return nil, nil
		}
		i++
		return row(&items[i-1])
	}))
	return err
}

// copyPackages writes rows into packages with COPY. This is the one
// definition of a packages row.
func (s *Store) copyPackages(ctx context.Context, repoID int32, scheme events.VersionScheme, rows []PackageRow) error {
	err := copyRows(ctx, s.tx, "packages",
		[]string{"repo_id", "project", "checksum", "name", "version", "version_key", "summary", "category",
			"maintainers", "links", "extra"},
		rows, func(r *PackageRow) ([]any, error) {
			key, p := r.Key, r.Package
			extra := p.Extra
			if extra == nil {
				extra = map[string]string{}
			}
			maintainers, err1 := json.Marshal(nonNil(p.Maintainers))
			links, err2 := json.Marshal(nonNil(p.Links))
			extraJSON, err3 := json.Marshal(extra)
			if err := errors.Join(err1, err2, err3); err != nil {
				return nil, err
			}
			return []any{repoID, p.Project, key.Int64(), p.Name, p.Version, version.SchemeKey(scheme, p.Version),
				p.Summary, p.Category, maintainers, links, extraJSON}, nil
		})
	if err != nil {
		return fmt.Errorf("copying packages: %w", err)
	}
	return nil
}

// NextBatchID allocates a batch id.
func (s *Store) NextBatchID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.tx.QueryRow(ctx, dlsql.Query("batch-next-id")).Scan(&id); err != nil {
		return 0, fmt.Errorf("allocating batch id: %w", err)
	}
	return id, nil
}

// AdvanceHead takes the changelog's append lock (held until commit; see
// the package doc) and allocates n seqs: the new range is
// (last - n, last].
func (s *Store) AdvanceHead(ctx context.Context, n int64) (last int64, err error) {
	if err := s.tx.QueryRow(ctx, dlsql.Query("head-advance"), n).Scan(&last); err != nil {
		return 0, fmt.Errorf("locking changelog head: %w", err)
	}
	return last, nil
}

// LockHead takes the append lock without allocating and returns the head:
// a follower, whose head is its leader's, sets it with SetHead.
func (s *Store) LockHead(ctx context.Context) (int64, error) {
	var head int64
	if err := s.tx.QueryRow(ctx, dlsql.Query("head-lock")).Scan(&head); err != nil {
		return 0, fmt.Errorf("locking changelog head: %w", err)
	}
	return head, nil
}

// SetHead moves the head held by LockHead.
func (s *Store) SetHead(ctx context.Context, seq int64) error {
	if _, err := s.tx.Exec(ctx, dlsql.Query("head-set"), seq); err != nil {
		return fmt.Errorf("advancing head: %w", err)
	}
	return nil
}

// AppendEvents appends evs (seq and batch already set) to the changelog
// with COPY. The caller holds the append lock.
func (s *Store) AppendEvents(ctx context.Context, repoID int32, evs []events.Event) error {
	err := copyRows(ctx, s.tx, "changelog",
		[]string{"seq", "batch_id", "repo_id", "project", "kind", "old_checksum", "new_checksum", "removed", "added"},
		evs, func(ev *events.Event) ([]any, error) {
			removed, err1 := json.Marshal(nonNil(ev.Removed))
			added, err2 := json.Marshal(nonNil(ev.Added))
			if err := errors.Join(err1, err2); err != nil {
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
		})
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

// InsertBatchParams is a batch record.
type InsertBatchParams struct {
	ID     int64
	RepoID int32
	// Kind is "update" or "invalidate".
	Kind                  string
	Files                 []events.InputFile
	StartedAt, FinishedAt time.Time
	Seed                  uint64
	HashVersion           int
	Scheme                events.VersionScheme
	FirstSeq, LastSeq     int64
	Counts                events.Counts
	// Reason and Actor are stored as NULL when empty.
	Reason, Actor          string
	RepoState, GlobalState hashing.Sum
	// Timings is stored as NULLs when nil.
	Timings *events.BatchTimings
}

// InsertBatch writes a batch record and tells listeners (see Watcher) of
// the new head LastSeq when the transaction commits.
func (s *Store) InsertBatch(ctx context.Context, p InsertBatchParams) error {
	files, err := json.Marshal(nonNil(p.Files))
	if err != nil {
		return err
	}
	counts, err := json.Marshal(p.Counts)
	if err != nil {
		return err
	}
	var parse, diff, write *float64
	if t := p.Timings; t != nil {
		parse, diff, write = &t.Parse, &t.Diff, &t.Write
	}
	if _, err := s.tx.Exec(ctx, dlsql.Query("batch-insert"), p.ID, p.RepoID, p.Kind, files,
		p.StartedAt, p.FinishedAt, int64(p.Seed), p.HashVersion, string(p.Scheme), p.FirstSeq, p.LastSeq, counts,
		nullable(p.Reason), nullable(p.Actor), p.RepoState.Int64(), p.GlobalState.Int64(), parse, diff, write); err != nil {
		return fmt.Errorf("writing batch %d: %w", p.ID, err)
	}
	if _, err := s.tx.Exec(ctx, dlsql.Query("notify"), p.LastSeq); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
