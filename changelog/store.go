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
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Store is the one writer of the current state (repos, packages,
// packagesets), of batch records and of the changelog's rows. The updater
// and a follower applying a leader's changelog both write through it, so a
// follower's rows are by construction the rows its leader wrote.
//
// A Store works inside the caller's transaction; the caller commits, after
// Flush. Writes are queued and sent with the next read or Flush, in one
// round trip (see queue): an error of a write can surface there.
type Store struct {
	tx DBTX
	q  queue
	// copyAbove: see Config.CopyAbove.
	copyAbove int
}

// NewStore returns a Store writing through tx.
func NewStore(tx DBTX) *Store { return &Store{tx: tx, copyAbove: defaultCopyAbove} }

// Flush sends the queued writes. Call it before committing.
func (s *Store) Flush(ctx context.Context) error { return s.q.send(ctx, s.tx) }

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
	// HasInvalid says packagesets wait to be re-derived; HasPending, that
	// invalidations wait for an update to claim them.
	HasInvalid, HasPending bool
}

// LockRepo serializes writers of one repository until the transaction
// ends (queued: taken by the next read, Repo's).
func (s *Store) LockRepo(name string) {
	s.q.exec("locking repository "+name, dlsql.Query("repo-lock"), name)
}

// Repo reads a repository's state; a repository that does not exist has
// ID 0.
func (s *Store) Repo(ctx context.Context, name string) (StoredRepo, error) {
	var r StoredRepo
	var state, seed int64
	var buckets []int64
	found := false
	s.q.row("reading repository "+name, func(row pgx.Row) error {
		err := row.Scan(&r.ID, &state, &r.Packages, &r.Packagesets, &seed, &r.HashVersion, &r.Scheme, &r.VersionOrder,
			&r.HasInvalid, &r.HasPending, &buckets)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	}, dlsql.Query("repo-get"), name)
	if err := s.Flush(ctx); err != nil {
		return StoredRepo{}, err
	}
	if !found {
		return StoredRepo{}, nil
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
	s.q.row("creating repository "+p.Name, func(row pgx.Row) error { return row.Scan(&id) },
		dlsql.Query("repo-create"), p.Name, int64(p.Seed), p.HashVersion, string(p.Scheme))
	return id, s.Flush(ctx)
}

// SetRepoStateParams is a repository's state after a batch.
type SetRepoStateParams struct {
	RepoID int32
	RepoState
}

// SetRepoState writes a repository's state (queued). It records
// version.OrderVersion as the repository's version order: the Store
// computes every version key it writes with this code.
func (s *Store) SetRepoState(p SetRepoStateParams) {
	s.q.exec("updating repository state", dlsql.Query("repo-set-state"), p.RepoID, int64(p.State), p.Packages,
		p.Packagesets, int64(p.Seed), p.HashVersion, string(p.Scheme), version.OrderVersion, p.Buckets.Int64s())
}

// GlobalState sums every repository's state checksum.
func (s *Store) GlobalState(ctx context.Context) (hashing.Sum, error) {
	var states []int64
	s.q.row("reading global state", func(row pgx.Row) error { return row.Scan(&states) }, dlsql.Query("global-state"))
	if err := s.Flush(ctx); err != nil {
		return 0, err
	}
	return sumStates(states), nil
}

func sumStates(states []int64) hashing.Sum {
	var g hashing.State
	for _, s := range states {
		g = g.Add(hashing.Sum(s))
	}
	return g.Sum()
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
	sql, args := dlsql.Query("packagesets-of-repo"), []any{p.RepoID}
	switch {
	case p.Projects != nil:
		sql, args = dlsql.Query("packagesets-of-projects"), []any{p.RepoID, p.Projects}
	case p.Buckets != nil:
		lo, hi := make([]int32, len(p.Buckets)), make([]int32, len(p.Buckets))
		for i, r := range p.Buckets {
			lo[i], hi[i] = int32(r.Lo), int32(r.Hi)
		}
		sql, args = dlsql.Query("packagesets-of-buckets"), []any{p.RepoID, lo, hi}
	}
	out := make(map[string]StoredSet, len(p.Projects))
	var (
		project string
		sum     int64
		invalid bool
	)
	s.q.rows("reading packagesets", func(rows pgx.Rows) error {
		_, err := pgx.ForEachRow(rows, []any{&project, &sum, &invalid}, func() error {
			out[project] = StoredSet{Sum: hashing.Sum(sum), Invalid: invalid}
			return nil
		})
		return err
	}, sql, args...)
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// InvalidBuckets returns the buckets of a repository that hold
// invalidated packagesets.
func (s *Store) InvalidBuckets(ctx context.Context, repoID int32) ([]uint16, error) {
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
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
		var sp StoredPackage
		var key int64
		s.q.rows("reading packages", func(rows pgx.Rows) error {
			_, err := pgx.ForEachRow(rows, []any{&sp.Package.Project, &key}, func() error {
				sp.Key = hashing.Sum(key)
				out[sp.Package.Project] = append(out[sp.Package.Project], sp)
				return nil
			})
			return err
		}, dlsql.Query("package-keys-of-projects"), p.RepoID, p.Projects)
		return out, s.Flush(ctx)
	}
	var (
		key                       int64
		maintainers, links, extra []byte
		pkg                       events.Package
	)
	s.q.rows("reading packages", func(rows pgx.Rows) error {
		_, err := pgx.ForEachRow(rows, []any{&pkg.Project, &key, &pkg.Name, &pkg.Version, &pkg.Summary, &pkg.Category,
			&maintainers, &links, &extra}, func() error {
			sp := StoredPackage{Key: hashing.Sum(key), Package: pkg}
			if err := decodePackage(&sp.Package, maintainers, links, extra); err != nil {
				return fmt.Errorf("package %s/%s: %w", pkg.Project, pkg.Name, err)
			}
			out[pkg.Project] = append(out[pkg.Project], sp)
			return nil
		})
		return err
	}, dlsql.Query("packages-of-projects"), p.RepoID, p.Projects)
	return out, s.Flush(ctx)
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

// WriteRows queues row writes. A row inserted that exists already fails
// with PostgreSQL's unique violation (a *pgconn.PgError naming the table),
// when the queue is sent.
func (s *Store) WriteRows(ctx context.Context, p RowsParams) error {
	if len(p.DeletePackages) > 0 {
		projects := make([]string, len(p.DeletePackages))
		keys := make([]int64, len(p.DeletePackages))
		for i, k := range p.DeletePackages {
			projects[i], keys[i] = k.Project, k.Key.Int64()
		}
		s.q.exec("deleting packages", dlsql.Query("packages-delete"), p.RepoID, projects, keys)
	}
	if len(p.InsertPackages) > 0 {
		c, err := packageColumnsOf(p.Scheme, p.InsertPackages)
		if err != nil {
			return fmt.Errorf("packages: %w", err)
		}
		if err := s.insert(ctx, "packages", dlsql.Query("packages-insert"), packageColumnNames, len(p.InsertPackages),
			p.RepoID, c.args(), c.row); err != nil {
			return err
		}
	}
	if len(p.DeleteSets) > 0 {
		s.q.exec("deleting packagesets", dlsql.Query("packagesets-delete"), p.RepoID, p.DeleteSets)
	}
	if len(p.UpdateSets) > 0 {
		c := setColumnsOf(p.UpdateSets)
		s.q.exec("updating packagesets", dlsql.Query("packagesets-update"), p.RepoID, c.project, c.checksum, c.packages)
	}
	if len(p.InsertSets) > 0 {
		c := setColumnsOf(p.InsertSets)
		if err := s.insert(ctx, "packagesets", dlsql.Query("packagesets-insert"), setColumnNames, len(p.InsertSets),
			p.RepoID, []any{c.project, c.checksum, c.packages}, c.row); err != nil {
			return err
		}
	}
	return nil
}

// defaultCopyAbove is the most rows an insert sends as one statement of
// the queue, as arrays unnested by the server; more go by COPY, which is
// faster per row but takes round trips of its own.
const defaultCopyAbove = 1000

// insert writes n rows into table: queued as the INSERT … unnest statement
// sql (parameters: repoID, then one array per further column, columns),
// or, above s.copyAbove, sent now by COPY of columns (the first being
// repo_id), row i being row(repoID, i). Both take the same column values:
// one definition of a row.
func (s *Store) insert(ctx context.Context, table, sql string, columns []string, n int, repoID int32, columnArgs []any,
	row func(repoID int32, i int) []any) error {
	if n <= s.copyAbove {
		s.q.exec("inserting "+table, sql, append([]any{repoID}, columnArgs...)...)
		return nil
	}
	if err := s.Flush(ctx); err != nil {
		return err
	}
	if _, err := s.tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromSlice(n, func(i int) ([]any, error) {
		return row(repoID, i), nil
	})); err != nil {
		return fmt.Errorf("copying %s: %w", table, err)
	}
	return nil
}

// packageColumnNames are the columns a packages row is written with, in
// the order of packages-insert's parameters.
var packageColumnNames = []string{"repo_id", "project", "checksum", "name", "version", "version_key", "summary",
	"category", "maintainers", "links", "extra"}

// packageColumns are packages rows by column. This is the one definition of
// a packages row.
type packageColumns struct {
	project, name, version, summary, category []string
	checksum                                  []int64
	versionKey, maintainers, links, extra     [][]byte
}

func packageColumnsOf(scheme events.VersionScheme, rows []PackageRow) (*packageColumns, error) {
	n := len(rows)
	c := &packageColumns{project: make([]string, n), name: make([]string, n), version: make([]string, n),
		summary: make([]string, n), category: make([]string, n), checksum: make([]int64, n),
		versionKey: make([][]byte, n), maintainers: make([][]byte, n), links: make([][]byte, n), extra: make([][]byte, n)}
	for i, r := range rows {
		p := r.Package
		extra := p.Extra
		if extra == nil {
			extra = map[string]string{}
		}
		var err1, err2, err3 error
		c.maintainers[i], err1 = json.Marshal(nonNil(p.Maintainers))
		c.links[i], err2 = json.Marshal(nonNil(p.Links))
		c.extra[i], err3 = json.Marshal(extra)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", p.Project, p.Name, err)
		}
		c.project[i], c.checksum[i], c.name[i], c.version[i] = p.Project, r.Key.Int64(), p.Name, p.Version
		c.versionKey[i], c.summary[i], c.category[i] = version.SchemeKey(scheme, p.Version), p.Summary, p.Category
	}
	return c, nil
}

func (c *packageColumns) args() []any {
	return []any{c.project, c.checksum, c.name, c.version, c.versionKey, c.summary, c.category,
		c.maintainers, c.links, c.extra}
}

func (c *packageColumns) row(repoID int32, i int) []any {
	return []any{repoID, c.project[i], c.checksum[i], c.name[i], c.version[i], c.versionKey[i], c.summary[i],
		c.category[i], c.maintainers[i], c.links[i], c.extra[i]}
}

// setColumnNames are the columns a packagesets row is written with, in
// the order of packagesets-insert's parameters.
var setColumnNames = []string{"repo_id", "project", "checksum", "num_packages"}

// setColumns are packagesets rows by column.
type setColumns struct {
	project  []string
	checksum []int64
	packages []int32
}

func setColumnsOf(rows []SetRow) setColumns {
	c := setColumns{project: make([]string, len(rows)), checksum: make([]int64, len(rows)),
		packages: make([]int32, len(rows))}
	for i, r := range rows {
		c.project[i], c.checksum[i], c.packages[i] = r.Project, r.Sum.Int64(), int32(r.Packages)
	}
	return c
}

func (c setColumns) row(repoID int32, i int) []any {
	return []any{repoID, c.project[i], c.checksum[i], c.packages[i]}
}

// Reservation is a batch's id and seqs, allocated under the changelog's
// append lock, with the other repositories' states as of that lock.
type Reservation struct {
	Batch int64
	// The batch's seqs are (Last - n, Last].
	Last   int64
	others []int64
}

// GlobalState is the global state checksum with the batch's repository at
// state repo. No other repository's state can change until the batch
// commits: every writer of one appends, and waits for the lock.
func (r Reservation) GlobalState(repo hashing.Sum) hashing.Sum {
	return hashing.State(sumStates(r.others)).Add(repo).Sum()
}

// ReserveBatch allocates a batch id for repository repoID, takes the
// changelog's append lock (held until commit; see the package doc) and
// allocates n seqs. The queued writes go with it.
func (s *Store) ReserveBatch(ctx context.Context, repoID int32, n int64) (Reservation, error) {
	var r Reservation
	s.q.row("allocating batch id", func(row pgx.Row) error { return row.Scan(&r.Batch) }, dlsql.Query("batch-next-id"))
	s.q.row("locking changelog head", func(row pgx.Row) error { return row.Scan(&r.Last) }, dlsql.Query("head-advance"), n)
	s.q.row("reading global state", func(row pgx.Row) error { return row.Scan(&r.others) },
		dlsql.Query("global-state-others"), repoID)
	return r, s.Flush(ctx)
}

// LockHead takes the append lock without allocating and returns the head:
// a follower, whose head is its leader's, sets it with SetHead.
func (s *Store) LockHead(ctx context.Context) (int64, error) {
	var head int64
	s.q.row("locking changelog head", func(row pgx.Row) error { return row.Scan(&head) }, dlsql.Query("head-lock"))
	return head, s.Flush(ctx)
}

// SetHead moves the head held by LockHead (queued).
func (s *Store) SetHead(seq int64) {
	s.q.exec("advancing head", dlsql.Query("head-set"), seq)
}

// changelogColumnNames are the columns an event is written with, in the
// order of changelog-insert's parameters.
var changelogColumnNames = []string{"repo_id", "seq", "batch_id", "project", "kind", "old_checksum", "new_checksum",
	"removed", "added"}

// AppendEvents queues evs (seq and batch already set) for the changelog.
// The caller holds the append lock.
func (s *Store) AppendEvents(ctx context.Context, repoID int32, evs []events.Event) error {
	n := len(evs)
	seq, batch, oldSum, newSum := make([]int64, n), make([]int64, n), make([]*int64, n), make([]*int64, n)
	project, kind, removed, added := make([]string, n), make([]string, n), make([][]byte, n), make([][]byte, n)
	for i := range evs {
		ev := &evs[i]
		var err1, err2, err3, err4 error
		removed[i], err1 = json.Marshal(nonNil(ev.Removed))
		added[i], err2 = json.Marshal(nonNil(ev.Added))
		oldSum[i], err3 = sumOrNil(ev.OldChecksum)
		newSum[i], err4 = sumOrNil(ev.NewChecksum)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return fmt.Errorf("appending event %d: %w", ev.Seq, err)
		}
		seq[i], batch[i], project[i], kind[i] = ev.Seq, ev.Batch, ev.Project, string(ev.Kind)
	}
	return s.insert(ctx, "changelog", dlsql.Query("changelog-insert"), changelogColumnNames, n, repoID,
		[]any{seq, batch, project, kind, oldSum, newSum, removed, added}, func(repoID int32, i int) []any {
			return []any{repoID, seq[i], batch[i], project[i], kind[i], oldSum[i], newSum[i], removed[i], added[i]}
		})
}

// sumOrNil converts a rendered checksum to its column value (NULL when
// absent).
func sumOrNil(s string) (*int64, error) {
	if s == "" {
		return nil, nil
	}
	v, err := hashing.ParseSum(s)
	if err != nil {
		return nil, err
	}
	i := v.Int64()
	return &i, nil
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

// InsertBatch queues a batch record and tells listeners (see Watcher) of
// the new head LastSeq when the transaction commits.
func (s *Store) InsertBatch(p InsertBatchParams) error {
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
	s.q.exec(fmt.Sprintf("writing batch %d", p.ID), dlsql.Query("batch-insert"), p.ID, p.RepoID, p.Kind, files,
		p.StartedAt, p.FinishedAt, int64(p.Seed), p.HashVersion, string(p.Scheme), p.FirstSeq, p.LastSeq, counts,
		nullable(p.Reason), nullable(p.Actor), p.RepoState.Int64(), p.GlobalState.Int64(), parse, diff, write)
	s.q.exec("notify", dlsql.Query("notify"), p.LastSeq)
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
