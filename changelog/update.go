package changelog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/internal/pg/autoanalyze"
	dlsql "github.com/deltalog/deltalog/sql"
)

// DB is what the updater needs from a pool: transactions, and statements
// outside them (ANALYZE after large changes).
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	autoanalyze.DB
}

// Config configures an Updater.
type Config struct {
	// MinFraction is the smallest share of a repository's current packages
	// a snapshot may have without Force. Default 0.5.
	MinFraction float64
	Logger      *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.MinFraction == 0 {
		c.MinFraction = 0.5
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Updater applies snapshots to the database.
type Updater struct {
	db    DB
	cfg   Config
	stats *autoanalyze.Analyzer // of the current state tables
}

// NewUpdater returns an Updater writing through db.
func NewUpdater(db DB, cfg Config) (*Updater, error) {
	cfg = cfg.withDefaults()
	if db == nil {
		return nil, errors.New("changelog: NewUpdater: db is nil")
	}
	if cfg.MinFraction < 0 || cfg.MinFraction > 1 {
		return nil, fmt.Errorf("changelog: MinFraction %v outside [0, 1]", cfg.MinFraction)
	}
	return &Updater{db: db, cfg: cfg, stats: NewStateAnalyzer()}, nil
}

// NewStateAnalyzer returns the analyzer of the current state tables that
// every writer of them (the Updater, a follower) reports its changes to.
func NewStateAnalyzer() *autoanalyze.Analyzer {
	return autoanalyze.New("packages", "packagesets", "repos")
}

// UpdateParams is one snapshot of one repository, already parsed and hashed.
type UpdateParams struct {
	Repo     string
	Snapshot hashing.Grouped
	// Seed is the seed Snapshot was hashed with.
	Seed uint64
	// VersionScheme orders the repository's versions (default generic).
	VersionScheme version.Scheme
	Files         []events.InputFile
	Skipped       int
	Force         bool
	StartedAt     time.Time
	// Load, when set, fills in the Packages of the given packagesets of
	// Snapshot, which holds only their checksums until then: a snapshot
	// read without holding its packages (internal/ingest) has the records
	// of just the packagesets that changed read back.
	Load func(sets []*hashing.Packageset) error
}

// UpdateResult describes what an update did.
type UpdateResult struct {
	Repo string
	// Batch is the id of the batch written, or 0 when nothing changed and
	// nothing was written.
	Batch               int64
	Counts              events.Counts
	FirstSeq, HeadSeq   int64
	RepoStateChecksum   hashing.Sum
	GlobalStateChecksum hashing.Sum
	DiffTime, WriteTime time.Duration
}

// storedSet is a packageset as stored.
type storedSet struct {
	sum     hashing.Sum
	invalid bool
}

// storedPackage is a row of the packages table.
type storedPackage struct {
	key hashing.Sum // checksum column (computed with the repository's stored seed)
	pkg events.Package
}

// delta is the work an update found: events to append and table writes.
type delta struct {
	events []events.Event
	counts events.Counts

	deleteProjects []string // packages rows to delete, by (project, checksum)
	deleteSums     []int64
	insert         []*hashing.Hashed // packages rows to insert

	setsInsert []*hashing.Packageset // packagesets rows
	setsUpdate []*hashing.Packageset
	setsDelete []string

	state   hashing.State // the repository's state checksum after
	buckets Buckets       // and its per-bucket states
}

// Update applies a snapshot: diff against the stored state and, if anything
// changed, write batch, events and current state in one transaction.
func (u *Updater) Update(ctx context.Context, p UpdateParams) (*UpdateResult, error) {
	if strings.TrimSpace(p.Repo) == "" || strings.ContainsAny(p.Repo, "\x00\n") {
		return nil, fmt.Errorf("%w: %q", ErrInvalidRepo, p.Repo)
	}
	if p.VersionScheme == "" {
		p.VersionScheme = version.SchemeGeneric
	}
	if !p.VersionScheme.Valid() {
		return nil, fmt.Errorf("update %s: unknown version scheme %q", p.Repo, p.VersionScheme)
	}
	if p.StartedAt.IsZero() {
		p.StartedAt = time.Now()
	}
	res := &UpdateResult{Repo: p.Repo}
	diffStart := time.Now()

	tx, err := u.db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("update %s: begin: %w", p.Repo, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit

	if _, err := tx.Exec(ctx, dlsql.Query("tx-delta-settings")); err != nil {
		return nil, fmt.Errorf("update %s: %w", p.Repo, err)
	}
	if _, err := tx.Exec(ctx, dlsql.Query("repo-lock"), p.Repo); err != nil {
		return nil, fmt.Errorf("update %s: lock: %w", p.Repo, err)
	}
	repo, err := loadRepo(ctx, tx, p.Repo)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", p.Repo, err)
	}
	if err := u.checkSize(p, repo); err != nil {
		return nil, err
	}

	d, err := u.diff(ctx, tx, p, repo)
	if err != nil {
		return nil, fmt.Errorf("update %s: diff: %w", p.Repo, err)
	}
	res.Counts = d.counts
	res.DiffTime = time.Since(diffStart)
	if len(d.events) == 0 {
		// Nothing changed: roll back, having written nothing at all.
		res.RepoStateChecksum = d.state.Sum()
		head, global, err := readHeadAndGlobal(ctx, tx)
		if err != nil {
			return nil, fmt.Errorf("update %s: %w", p.Repo, err)
		}
		res.HeadSeq, res.GlobalStateChecksum = head, global
		return res, nil
	}

	writeStart := time.Now()
	if err := u.write(ctx, tx, p, repo, d, res); err != nil {
		return nil, fmt.Errorf("update %s: write: %w", p.Repo, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("update %s: commit: %w", p.Repo, err)
	}
	res.WriteTime = time.Since(writeStart)
	// Large changes leave the planner's statistics behind (a fresh
	// catalog's are those of an empty table): refresh them after commit,
	// outside the transaction, when enough rows changed.
	changed := int64(len(d.deleteSums) + len(d.insert) + len(d.setsInsert) + len(d.setsUpdate) + len(d.setsDelete))
	if _, err := u.stats.Changed(ctx, u.db, changed); err != nil {
		u.cfg.Logger.WarnContext(ctx, "analyze failed", "error", err)
	}
	u.cfg.Logger.InfoContext(ctx, "update committed", "repo", p.Repo, "batch", res.Batch,
		"events", len(d.events), "first_seq", res.FirstSeq, "head_seq", res.HeadSeq)
	return res, nil
}

// repoRow is a repository as stored; id 0 means it does not exist yet.
type repoRow struct {
	id                          int32
	state                       hashing.State
	numPackages, numPackagesets int
	seed                        uint64
	version                     int
	scheme                      version.Scheme
	hasInvalid                  bool // packagesets wait to be re-derived
	buckets                     Buckets
}

func loadRepo(ctx context.Context, tx pgx.Tx, name string) (repoRow, error) {
	var r repoRow
	var state, seed int64
	var buckets []int64
	err := tx.QueryRow(ctx, dlsql.Query("repo-get"), name).
		Scan(&r.id, &state, &r.numPackages, &r.numPackagesets, &seed, &r.version, &r.scheme, &r.hasInvalid, &buckets)
	if errors.Is(err, pgx.ErrNoRows) {
		return repoRow{}, nil
	}
	if err != nil {
		return repoRow{}, fmt.Errorf("reading repository: %w", err)
	}
	r.state, r.seed, r.buckets = hashing.State(state), uint64(seed), BucketsOf(buckets)
	return r, nil
}

func (u *Updater) checkSize(p UpdateParams, repo repoRow) error {
	if p.Force {
		return nil
	}
	n := p.Snapshot.Packages
	if n == 0 {
		return fmt.Errorf("update %s: %w: the snapshot has no packages (use --force to empty the repository)",
			p.Repo, ErrSuspiciousSnapshot)
	}
	if min := int(float64(repo.numPackages) * u.cfg.MinFraction); n < min {
		return fmt.Errorf("update %s: %w: the snapshot has %d packages, the repository has %d now "+
			"(refusing fewer than %d; use --force if this is intended)",
			p.Repo, ErrSuspiciousSnapshot, n, repo.numPackages, min)
	}
	return nil
}

// diff compares the snapshot with the stored state and computes the events
// and table writes. Only packagesets whose checksum differs (or whose stored
// checksum was invalidated) have their packages read.
func (u *Updater) diff(ctx context.Context, tx pgx.Tx, p UpdateParams, repo repoRow) (*delta, error) {
	h := hashing.New(p.Seed)
	// A change of seed or algorithm makes every stored checksum meaningless,
	// a change of version scheme every version key: re-derive the whole
	// repository.
	rederive := repo.id != 0 &&
		(repo.seed != p.Seed || repo.version != hashing.AlgorithmVersion || repo.scheme != p.VersionScheme)

	d := &delta{state: repo.state}
	d.counts.Packages = p.Snapshot.Packages
	d.counts.Packagesets = len(p.Snapshot.Packagesets)
	d.counts.Skipped = p.Skipped
	for _, dup := range p.Snapshot.Duplicates {
		d.counts.Duplicates += dup.Copies - 1
	}

	// The snapshot's state checksum equal to the stored one means every
	// packageset is as stored: nothing to read, nothing to write. Most
	// repositories of a catalog are unchanged at any load.
	contributions := make([]hashing.Sum, len(p.Snapshot.Packagesets))
	var snapState hashing.State
	for i := range p.Snapshot.Packagesets {
		ps := &p.Snapshot.Packagesets[i]
		contributions[i] = h.Contribution(p.Repo, ps.Project, ps.Sum)
		snapState = snapState.Add(contributions[i])
	}
	if repo.id != 0 && !rederive && !repo.hasInvalid && snapState == repo.state {
		d.counts.Unchanged = len(p.Snapshot.Packagesets)
		return d, nil
	}

	// Otherwise only the buckets whose state differs (and those holding
	// invalidated packagesets) can hold a change: their stored checksums
	// are read, and the snapshot's packagesets of other buckets are as
	// stored.
	var invalid []uint16
	if repo.hasInvalid && !rederive {
		var err error
		if invalid, err = invalidBuckets(ctx, tx, repo.id); err != nil {
			return nil, err
		}
	}
	sc := newScope(repo.buckets, p.Snapshot.Packagesets, contributions, repo.id == 0 || rederive, invalid)
	d.buckets = sc.after
	stored := map[string]storedSet{}
	if repo.id != 0 {
		var rows pgx.Rows
		var err error
		if sc.all {
			rows, err = tx.Query(ctx, dlsql.Query("packagesets-of-repo"), repo.id)
		} else {
			lo, hi := make([]int32, len(sc.ranges)), make([]int32, len(sc.ranges))
			for i, r := range sc.ranges {
				lo[i], hi[i] = int32(r.Lo), int32(r.Hi)
			}
			rows, err = tx.Query(ctx, dlsql.Query("packagesets-of-buckets"), repo.id, lo, hi)
		}
		if err != nil {
			return nil, err
		}
		var project string
		var sum int64
		var invalid bool
		_, err = pgx.ForEachRow(rows, []any{&project, &sum, &invalid}, func() error {
			stored[project] = storedSet{sum: hashing.Sum(sum), invalid: invalid}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading packagesets: %w", err)
		}
	}

	// Classify packagesets; collect the projects whose stored packages we need.
	type touched struct {
		project string
		kind    events.Kind
		old     *storedSet
		new     *hashing.Packageset
	}
	var work []touched
	var needOld []string
	for i := range p.Snapshot.Packagesets {
		ps := &p.Snapshot.Packagesets[i]
		if !sc.covers(i) {
			d.counts.Unchanged++
			continue
		}
		old, ok := stored[ps.Project]
		switch {
		case !ok:
			work = append(work, touched{project: ps.Project, kind: events.KindAdded, new: ps})
		case old.invalid || rederive:
			work = append(work, touched{project: ps.Project, kind: events.KindInvalidated, old: &old, new: ps})
			needOld = append(needOld, ps.Project)
		case old.sum != ps.Sum:
			work = append(work, touched{project: ps.Project, kind: events.KindChanged, old: &old, new: ps})
			needOld = append(needOld, ps.Project)
		default:
			d.counts.Unchanged++
		}
		if ok {
			delete(stored, ps.Project)
		}
	}
	for project, old := range stored {
		work = append(work, touched{project: project, kind: events.KindRemoved, old: &old})
		needOld = append(needOld, project)
	}
	slices.SortFunc(work, func(a, b touched) int { return strings.Compare(a.project, b.project) })
	if p.Load != nil {
		var sets []*hashing.Packageset
		for _, w := range work {
			if w.new != nil {
				sets = append(sets, w.new)
			}
		}
		if err := p.Load(sets); err != nil {
			return nil, err
		}
	}

	oldPackages, err := loadPackages(ctx, tx, repo.id, needOld)
	if err != nil {
		return nil, err
	}

	if rederive {
		// Every stored packageset is re-stated (there are no unchanged ones),
		// so the state is rebuilt from the new contributions alone.
		d.state = 0
	}
	for _, w := range work {
		olds := oldPackages[w.project]
		ev := events.Event{Repo: p.Repo, Project: w.project, Kind: w.kind}
		if w.old != nil {
			ev.OldChecksum = w.old.sum.String()
			if !rederive {
				d.state = d.state.Remove(h.Contribution(p.Repo, w.project, w.old.sum))
			}
		}
		if w.new != nil {
			ev.NewChecksum = w.new.Sum.String()
			d.state = d.state.Add(h.Contribution(p.Repo, w.project, w.new.Sum))
		}

		// Table writes compare stored keys with new checksums. Packagesets
		// are small (most hold one to three packages), so sorted slices with
		// binary search beat maps here.
		var newSums []hashing.Sum
		if w.new != nil {
			newSums = make([]hashing.Sum, len(w.new.Packages))
			for i, np := range w.new.Packages {
				newSums[i] = np.Sum // sorted: Group sorts packages by checksum
			}
		}
		// A re-stated packageset (invalidated, or re-derived) has all its
		// rows rewritten, so that derived columns (version_key) are
		// recomputed with the current code.
		restate := rederive || (w.old != nil && w.old.invalid)
		oldKeys := make([]hashing.Sum, len(olds))
		for i, op := range olds {
			oldKeys[i] = op.key
		}
		slices.Sort(oldKeys)
		for _, op := range olds {
			if restate || !contains(newSums, op.key) {
				d.deleteProjects = append(d.deleteProjects, w.project)
				d.deleteSums = append(d.deleteSums, op.key.Int64())
			}
		}
		if w.new != nil {
			for i := range w.new.Packages {
				np := &w.new.Packages[i]
				if restate || !contains(oldKeys, np.Sum) {
					d.insert = append(d.insert, np)
				}
			}
		}

		// The event's delta compares content. Under a changed seed the old
		// packages are re-hashed with the new one, so that content that did
		// not change is recognized as such.
		oldSums := oldKeys
		if rederive {
			oldSums = make([]hashing.Sum, len(olds))
			for i := range olds {
				oldSums[i] = h.Package(&olds[i].pkg)
			}
			slices.Sort(oldSums)
		}
		if w.kind == events.KindInvalidated && h.Packageset(oldSums) != w.new.Sum {
			w.kind, ev.Kind = events.KindChanged, events.KindChanged
		}
		if w.kind == events.KindInvalidated {
			// Not a change of content: re-state the full content.
			for _, op := range olds {
				ev.Removed = append(ev.Removed, op.pkg)
			}
			for _, np := range w.new.Packages {
				ev.Added = append(ev.Added, np.Pkg)
			}
		} else {
			for _, op := range olds {
				s := op.key
				if rederive {
					s = h.Package(&op.pkg)
				}
				if !contains(newSums, s) {
					ev.Removed = append(ev.Removed, op.pkg)
				}
			}
			if w.new != nil {
				for _, np := range w.new.Packages {
					if !contains(oldSums, np.Sum) {
						ev.Added = append(ev.Added, np.Pkg)
					}
				}
			}
		}

		switch w.kind {
		case events.KindAdded:
			d.counts.Added++
			d.setsInsert = append(d.setsInsert, w.new)
		case events.KindChanged:
			d.counts.Changed++
			d.setsUpdate = append(d.setsUpdate, w.new)
		case events.KindInvalidated:
			d.counts.Invalidated++
			d.setsUpdate = append(d.setsUpdate, w.new)
		case events.KindRemoved:
			d.counts.Removed++
			d.setsDelete = append(d.setsDelete, w.project)
		}
		d.events = append(d.events, ev)
	}
	d.counts.Events = len(d.events)
	return d, nil
}

// invalidBuckets returns the buckets holding invalidated packagesets.
func invalidBuckets(ctx context.Context, tx pgx.Tx, repoID int32) ([]uint16, error) {
	rows, err := tx.Query(ctx, dlsql.Query("packagesets-invalid-buckets"), repoID)
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

// contains reports whether sorted holds s.
func contains(sorted []hashing.Sum, s hashing.Sum) bool {
	_, ok := slices.BinarySearch(sorted, s)
	return ok
}

// loadPackages reads the stored packages of the given projects.
func loadPackages(ctx context.Context, tx pgx.Tx, repoID int32, projects []string) (map[string][]storedPackage, error) {
	out := make(map[string][]storedPackage, len(projects))
	if len(projects) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, dlsql.Query("packages-of-projects"), repoID, projects)
	if err != nil {
		return nil, fmt.Errorf("reading packages: %w", err)
	}
	var (
		key                       int64
		maintainers, links, extra []byte
		p                         events.Package
	)
	_, err = pgx.ForEachRow(rows, []any{&p.Project, &key, &p.Name, &p.Version, &p.Summary, &p.Category,
		&maintainers, &links, &extra}, func() error {
		pkg := p
		if err := decodeRecord(&pkg, maintainers, links, extra); err != nil {
			return fmt.Errorf("package %s/%s: %w", p.Project, p.Name, err)
		}
		out[pkg.Project] = append(out[pkg.Project], storedPackage{key: hashing.Sum(key), pkg: pkg})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading packages: %w", err)
	}
	return out, nil
}

func decodeRecord(p *events.Package, maintainers, links, extra []byte) error {
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

// write applies d in tx: current state first (concurrently with other
// repositories' updates), then the serialized changelog append.
func (u *Updater) write(ctx context.Context, tx pgx.Tx, p UpdateParams, repo repoRow, d *delta, res *UpdateResult) error {
	if repo.id == 0 {
		if err := tx.QueryRow(ctx, dlsql.Query("repo-create"), p.Repo, int64(p.Seed), hashing.AlgorithmVersion, string(p.VersionScheme)).
			Scan(&repo.id); err != nil {
			return fmt.Errorf("creating repository: %w", err)
		}
	}
	if len(d.deleteSums) > 0 {
		if _, err := tx.Exec(ctx, dlsql.Query("packages-delete"), repo.id, d.deleteProjects, d.deleteSums); err != nil {
			return fmt.Errorf("deleting packages: %w", err)
		}
	}
	if len(d.insert) > 0 {
		if err := CopyPackages(ctx, tx, repo.id, p.VersionScheme, len(d.insert), func(i int) (hashing.Sum, *events.Package) {
			return d.insert[i].Sum, &d.insert[i].Pkg
		}); err != nil {
			return err
		}
	}
	if err := writePacksets(ctx, tx, repo.id, d); err != nil {
		return err
	}

	var batchID int64
	if err := tx.QueryRow(ctx, dlsql.Query("batch-next-id")).Scan(&batchID); err != nil {
		return fmt.Errorf("allocating batch id: %w", err)
	}

	// The append: from here to commit, other appends wait.
	n := int64(len(d.events))
	var last int64
	if err := tx.QueryRow(ctx, dlsql.Query("head-advance"), n).Scan(&last); err != nil {
		return fmt.Errorf("locking changelog head: %w", err)
	}
	first := last - n + 1
	for i := range d.events {
		d.events[i].Seq = first + int64(i)
		d.events[i].Batch = batchID
	}
	if err := CopyEvents(ctx, tx, repo.id, d.events); err != nil {
		return err
	}

	if _, err := tx.Exec(ctx, dlsql.Query("repo-set-state"), repo.id, int64(d.state),
		d.counts.Packages, d.counts.Packagesets, int64(p.Seed), hashing.AlgorithmVersion, string(p.VersionScheme),
		d.buckets.Int64s()); err != nil {
		return fmt.Errorf("updating repository state: %w", err)
	}
	global, err := globalState(ctx, tx)
	if err != nil {
		return err
	}

	files, err := json.Marshal(nonNil(p.Files))
	if err != nil {
		return err
	}
	counts, err := json.Marshal(d.counts)
	if err != nil {
		return err
	}
	note, err := noteBatch(ctx, tx, repo, p, d.counts, batchID) // kind, and the reason and actor of re-statements
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, dlsql.Query("batch-insert"), batchID, repo.id, note.kind, files,
		p.StartedAt, time.Now(), int64(p.Seed), hashing.AlgorithmVersion, string(p.VersionScheme), first, last, counts,
		note.reason, note.actor, int64(d.state), global.Int64()); err != nil {
		return fmt.Errorf("writing batch: %w", err)
	}
	if _, err := tx.Exec(ctx, dlsql.Query("notify"), last); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	res.Batch, res.FirstSeq, res.HeadSeq = batchID, first, last
	res.RepoStateChecksum, res.GlobalStateChecksum = d.state.Sum(), global
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writePacksets(ctx context.Context, tx pgx.Tx, repoID int32, d *delta) error {
	if len(d.setsDelete) > 0 {
		if _, err := tx.Exec(ctx, dlsql.Query("packagesets-delete"), repoID, d.setsDelete); err != nil {
			return fmt.Errorf("deleting packagesets: %w", err)
		}
	}
	if len(d.setsUpdate) > 0 {
		projects := make([]string, len(d.setsUpdate))
		sums := make([]int64, len(d.setsUpdate))
		counts := make([]int32, len(d.setsUpdate))
		for i, ps := range d.setsUpdate {
			projects[i], sums[i], counts[i] = ps.Project, ps.Sum.Int64(), int32(len(ps.Packages))
		}
		if _, err := tx.Exec(ctx, dlsql.Query("packagesets-update"), repoID, projects, sums, counts); err != nil {
			return fmt.Errorf("updating packagesets: %w", err)
		}
	}
	if len(d.setsInsert) > 0 {
		i := 0
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"packagesets"},
			[]string{"repo_id", "project", "checksum", "num_packages"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(d.setsInsert) {
					return nil, nil
				}
				ps := d.setsInsert[i]
				i++
				return []any{repoID, ps.Project, ps.Sum.Int64(), int32(len(ps.Packages))}, nil
			}))
		if err != nil {
			return fmt.Errorf("copying packagesets: %w", err)
		}
	}
	return nil
}

// globalState sums every repository's state checksum.
func globalState(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (hashing.Sum, error) {
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

func readHeadAndGlobal(ctx context.Context, tx pgx.Tx) (int64, hashing.Sum, error) {
	var head int64
	if err := tx.QueryRow(ctx, dlsql.Query("head")).Scan(&head); err != nil {
		return 0, 0, fmt.Errorf("reading head: %w", err)
	}
	g, err := globalState(ctx, tx)
	return head, g, err
}
