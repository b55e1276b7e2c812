package changelog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/internal/pg/autoanalyze"
	dlsql "github.com/deltalog/deltalog/sql"
)

// DB is what the updater needs from a pool: transactions, and statements
// outside them (ANALYZE after large changes). *pgxpool.Pool satisfies it.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Config configures an Updater.
type Config struct {
	// MinFraction is the smallest share of a repository's current packages
	// a snapshot may have without Force. Default 0.5.
	MinFraction float64
	// ChunkSets is how many changed packagesets an update turns into
	// events and rows at a time (default 20000): memory holds one chunk's
	// packages, events and rows, not the whole change's (the PyPI list's
	// first load is 886k events).
	ChunkSets int
	// CopyAbove is the most rows of one table an update writes as a
	// statement sent with its others (one round trip for a small delta's
	// writes); more go by COPY. Default 1000; negative: always COPY.
	CopyAbove int
	Logger    *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.MinFraction == 0 {
		c.MinFraction = 0.5
	}
	if c.ChunkSets <= 0 {
		c.ChunkSets = 20000
	}
	if c.CopyAbove == 0 {
		c.CopyAbove = defaultCopyAbove
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
	stats *StateAnalyzer
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

// StateAnalyzer keeps the planner's statistics of the current-state tables
// in step with the changes of one writer of them (the Updater, a
// follower): large changes leave them behind (a fresh catalog's are those
// of an empty table). It is safe for concurrent use.
type StateAnalyzer struct {
	a *autoanalyze.Analyzer
}

// NewStateAnalyzer returns the analyzer of the current-state tables.
func NewStateAnalyzer() *StateAnalyzer {
	return &StateAnalyzer{a: autoanalyze.New("packages", "packagesets", "repos")}
}

// Changed records that n rows of the current-state tables changed
// (committed) and ANALYZEs them, through db outside any transaction, when
// enough did since the last time. It reports whether it did.
func (s *StateAnalyzer) Changed(ctx context.Context, db DB, n int64) (bool, error) {
	return s.a.Changed(ctx, db, n)
}

// UpdateParams is one snapshot of one repository, already parsed and hashed.
type UpdateParams struct {
	Repo     string
	Snapshot hashing.Grouped
	// Seed is the seed Snapshot was hashed with.
	Seed uint64
	// VersionScheme orders the repository's versions (default generic).
	VersionScheme events.VersionScheme
	Files         []events.InputFile
	Skipped       int
	Force         bool
	StartedAt     time.Time
	// ParseTime is how long reading and parsing the snapshot took, for
	// the batch's record of where its time went.
	ParseTime time.Duration
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
	// rows counts the current-state rows written.
	rows int64
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
	if !version.Valid(p.VersionScheme) {
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

	st := NewStore(tx)
	st.copyAbove = max(u.cfg.CopyAbove, 0)
	// The settings and the lock travel with the repository's read.
	st.q.exec("settings", dlsql.Query("tx-delta-settings"))
	st.LockRepo(p.Repo)
	repo, err := st.Repo(ctx, p.Repo)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", p.Repo, err)
	}
	if err := u.checkSize(p, repo); err != nil {
		return nil, err
	}

	d, err := u.diff(ctx, st, p, repo)
	if err != nil {
		return nil, fmt.Errorf("update %s: diff: %w", p.Repo, err)
	}
	res.Counts = d.counts
	res.DiffTime = time.Since(diffStart)
	if len(d.work) == 0 {
		// Nothing changed: roll back, having written nothing at all.
		res.RepoStateChecksum = d.state.Sum()
		if res.HeadSeq, err = Head(ctx, tx); err != nil {
			return nil, fmt.Errorf("update %s: %w", p.Repo, err)
		}
		if res.GlobalStateChecksum, err = st.GlobalState(ctx); err != nil {
			return nil, fmt.Errorf("update %s: %w", p.Repo, err)
		}
		return res, nil
	}

	writeStart := time.Now()
	if err := u.write(ctx, tx, st, p, repo, d, res, writeStart); err != nil {
		return nil, fmt.Errorf("update %s: write: %w", p.Repo, err)
	}
	if err := st.Flush(ctx); err != nil {
		return nil, fmt.Errorf("update %s: write: %w", p.Repo, err)
	}
	res.Counts = d.counts // with the events' kinds, known once they are built
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("update %s: commit: %w", p.Repo, err)
	}
	res.WriteTime = time.Since(writeStart)
	// Large changes leave the planner's statistics behind (a fresh
	// catalog's are those of an empty table): refresh them after commit,
	// outside the transaction, when enough rows changed.
	if _, err := u.stats.Changed(ctx, u.db, res.rows); err != nil {
		u.cfg.Logger.WarnContext(ctx, "analyze failed", "error", err)
	}
	u.cfg.Logger.InfoContext(ctx, "update committed", "repo", p.Repo, "batch", res.Batch,
		"events", len(d.work), "first_seq", res.FirstSeq, "head_seq", res.HeadSeq)
	return res, nil
}

func (u *Updater) checkSize(p UpdateParams, repo StoredRepo) error {
	if p.Force {
		return nil
	}
	n := p.Snapshot.Packages
	if n == 0 {
		return fmt.Errorf("update %s: %w: the snapshot has no packages (use --force to empty the repository)",
			p.Repo, ErrSuspiciousSnapshot)
	}
	if min := int(float64(repo.Packages) * u.cfg.MinFraction); n < min {
		return fmt.Errorf("update %s: %w: the snapshot has %d packages, the repository has %d now "+
			"(refusing fewer than %d; use --force if this is intended)",
			p.Repo, ErrSuspiciousSnapshot, n, repo.Packages, min)
	}
	return nil
}

// write applies d in tx, a chunk of packagesets at a time: its current
// state rows, then its events. The first chunk's rows are written before
// the changelog append begins, concurrently with other repositories'
// updates; from the first append to commit, other appends wait (a change
// of more than one chunk writes its later chunks under that lock).
func (u *Updater) write(ctx context.Context, tx pgx.Tx, st *Store, p UpdateParams, repo StoredRepo, d *delta, res *UpdateResult, start time.Time) error {
	if repo.ID == 0 {
		var err error
		if repo.ID, err = st.CreateRepo(ctx, CreateRepoParams{Name: p.Repo, Seed: p.Seed,
			HashVersion: hashing.AlgorithmVersion, Scheme: p.VersionScheme}); err != nil {
			return err
		}
	}
	var (
		r           Reservation
		first, last int64
	)
	for lo := 0; lo < len(d.work); lo += u.cfg.ChunkSets {
		work := d.work[lo:min(lo+u.cfg.ChunkSets, len(d.work))]
		c, err := d.chunk(ctx, st, p, repo.ID, work)
		if err != nil {
			return err
		}
		if err := st.WriteRows(ctx, c.rows); err != nil {
			return err
		}
		res.rows += c.rows.Rows()
		if lo == 0 {
			// The append: from here to commit, other appends wait.
			n := int64(len(d.work))
			if r, err = st.ReserveBatch(ctx, repo.ID, n); err != nil {
				return err
			}
			first, last = r.Last-n+1, r.Last
		}
		for i := range c.events {
			c.events[i].Seq = first + int64(lo+i)
			c.events[i].Batch = r.Batch
		}
		if err := st.AppendEvents(ctx, repo.ID, c.events); err != nil {
			return err
		}
		release(p, work)
	}

	st.SetRepoState(SetRepoStateParams{RepoID: repo.ID, RepoState: RepoState{State: d.state,
		Packages: d.counts.Packages, Packagesets: d.counts.Packagesets,
		Seed: p.Seed, HashVersion: hashing.AlgorithmVersion, Scheme: p.VersionScheme, Buckets: d.buckets}})
	global := r.GlobalState(d.state.Sum())
	note, err := noteBatch(ctx, tx, st, repo, p, d.counts, r.Batch) // kind, and the reason and actor of re-statements
	if err != nil {
		return err
	}
	if err := st.InsertBatch(InsertBatchParams{ID: r.Batch, RepoID: repo.ID, Kind: note.kind, Files: p.Files,
		StartedAt: p.StartedAt, FinishedAt: time.Now(), Seed: p.Seed, HashVersion: hashing.AlgorithmVersion,
		Scheme: p.VersionScheme, FirstSeq: first, LastSeq: last, Counts: d.counts,
		Reason: note.reason, Actor: note.actor, RepoState: d.state.Sum(), GlobalState: global,
		// Write ends here: the last round trip (a small delta's events and
		// state, sent with the batch record) is not in it.
		Timings: &events.BatchTimings{Parse: p.ParseTime.Seconds(), Diff: res.DiffTime.Seconds(), Write: time.Since(start).Seconds()}}); err != nil {
		return err
	}
	res.Batch, res.FirstSeq, res.HeadSeq = r.Batch, first, last
	res.RepoStateChecksum, res.GlobalStateChecksum = d.state.Sum(), global
	return nil
}
