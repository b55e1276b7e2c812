package projections

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/changelog"
	dlsql "github.com/deltalog/deltalog/sql"
)

// Check is the outcome of one audit check (see changelog.Check): the current
// state's and the changelog's checks and the derived tables' share it.
type Check = changelog.Check

// The outcomes of an audit.
const (
	// OutcomeConsistent: every check ran and found nothing wrong.
	OutcomeConsistent = "consistent"
	// OutcomeInconsistent: a check found wrong rows (and a repair, if one
	// was asked for, did not fix them all).
	OutcomeInconsistent = "inconsistent"
	// OutcomeRepaired: checks found wrong rows, the repair rewrote them, and
	// an audit after the repair found nothing wrong.
	OutcomeRepaired = "repaired"
	// OutcomeIncomplete: nothing wrong was found, but a check could not run
	// (a projection lagging behind the head is not compared).
	OutcomeIncomplete = "incomplete"
)

// CheckIdentities, CheckProjectHistory and CheckProjectRedirects are the
// derived-table checks beyond Verify's comparisons (whose checks are named
// projection.table).
const (
	CheckIdentities       = CatalogName + ".identities"
	CheckProjectHistory   = HistoryName + ".project_history"
	CheckProjectRedirects = HistoryName + ".project_redirects"
)

// AuditOpts configures Audit.
type AuditOpts struct {
	// Projections limits the derived-table checks to these projections
	// (all when empty). The current state and the changelog are always
	// checked.
	Projections []string
	// CatchUp applies the pages each audited projection has pending before
	// the audit takes its snapshot. A projection behind the head cannot be
	// compared with the current state, and is reported as skipped.
	CatchUp bool
	// ReplayHistory also recomputes project_history, which is not
	// derivable from the current state, by replaying the whole changelog
	// through the history projection (as long as a rebuild from the
	// changelog: off by default).
	ReplayHistory bool
	// Repair rewrites what the audit found wrong, in one transaction, and
	// audits again (see Audit).
	Repair bool
	// Record stores the report in audit_runs, with Source ("cli",
	// "follow", …) and Actor (default the OS user).
	Record bool
	Source string
	Actor  string
	// PageSize bounds the pages of catch-ups and replays (default 10000).
	PageSize int
	Logger   *slog.Logger
}

func (o *AuditOpts) defaults() error {
	o.Source = cmp.Or(o.Source, "api")
	o.Actor = cmp.Or(o.Actor, changelog.Actor())
	if o.PageSize <= 0 {
		o.PageSize = 10000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	for _, name := range o.Projections {
		if !slices.Contains(Names(), name) {
			return fmt.Errorf("audit: unknown projection %q (known: %v)", name, Names())
		}
	}
	if len(o.Projections) == 0 {
		o.Projections = Names()
	}
	return nil
}

// AuditReport is what an audit found (and a repair changed).
type AuditReport struct {
	// ID is the audit_runs row (0 when not recorded).
	ID          int64            `json:"id,omitempty"`
	StartedAt   time.Time        `json:"started_at"`
	FinishedAt  time.Time        `json:"finished_at"`
	Seconds     float64          `json:"seconds"`
	HeadSeq     int64            `json:"head_seq"`
	Checkpoints map[string]int64 `json:"checkpoints"`
	Outcome     string           `json:"outcome"`
	// Checks are the audit's checks, in order: the current state, the
	// changelog, then each projection's tables.
	Checks []Check `json:"checks"`
	// Timings are the seconds spent per group of checks ("state",
	// "catalog", "history"), recomputations included.
	Timings map[string]float64 `json:"timings"`
	// Repairs are the checks that found something, run again under the
	// repair's locks, with what the repair changed; Remaining are the
	// checks an audit after the repair still found wrong.
	Repairs   []Check  `json:"repairs,omitempty"`
	Remaining []Check  `json:"remaining,omitempty"`
	Notes     []string `json:"notes,omitempty"`
}

// Consistent reports whether the database was found consistent (or was
// made so by the repair).
func (r *AuditReport) Consistent() bool {
	return r.Outcome == OutcomeConsistent || r.Outcome == OutcomeRepaired
}

// Failed returns the checks that found something wrong.
func (r *AuditReport) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.Clean() {
			out = append(out, c)
		}
	}
	return out
}

func outcome(checks []Check) string {
	skipped := false
	for _, c := range checks {
		if !c.Clean() {
			return OutcomeInconsistent
		}
		skipped = skipped || c.Skipped != ""
	}
	if skipped {
		return OutcomeIncomplete
	}
	return OutcomeConsistent
}

// Audit checks that the database is consistent: the current state and the
// changelog (changelog.AuditState: package, packageset and state checksums
// recomputed from the packages, a gap-free changelog below the head and
// every checkpoint, and a replay of the changelog ending at the stored
// packageset checksums), and every derived table of the projections
// against its recomputation from the current state (Verify: full outer
// joins on the keys, IS DISTINCT FROM on the values), plus the maintainers'
// and links' identity rows against the changelog, and, with ReplayHistory,
// project_history against a replay of the changelog.
//
// It reads one snapshot, in a REPEATABLE READ transaction that writes only
// temporary tables and is rolled back: it blocks neither updates nor
// workers. A projection whose checkpoint is behind the head in that
// snapshot is legitimately different from the current state (its worker
// has pages to apply), so it is not compared but reported as skipped, and
// the outcome is at best "incomplete" (CatchUp applies its pages first).
//
// With Repair, when the audit finds something wrong, one transaction takes
// every repository's update lock, the changelog's append lock and the
// checkpoint row of each projection to repair (so updates and workers wait
// for it), runs the failing groups of checks again and rewrites exactly the
// rows they find wrong: derived tables get the recomputed rows (extra rows
// deleted, missing ones inserted, differing ones updated), packagesets and
// repository states the recomputed checksums; see changelog.RepairState for
// what the changelog cannot be repaired of. Then a second audit runs, and
// the outcome is "repaired" when it finds nothing wrong.
func Audit(ctx context.Context, pool *pgxpool.Pool, opts AuditOpts) (*AuditReport, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	start := time.Now()
	if opts.CatchUp {
		if err := CatchUp(ctx, pool, opts.Projections, opts.PageSize, opts.Logger); err != nil {
			return nil, fmt.Errorf("audit: catching up: %w", err)
		}
	}
	rep, err := auditOnce(ctx, pool, opts)
	if err != nil {
		return nil, err
	}
	if opts.Repair && rep.Outcome == OutcomeInconsistent {
		repairs, notes, err := repair(ctx, pool, opts, rep.Failed())
		if err != nil {
			return nil, err
		}
		rep.Repairs, rep.Notes = repairs, append(rep.Notes, notes...)
		after, err := auditOnce(ctx, pool, opts)
		if err != nil {
			return nil, fmt.Errorf("audit after repair: %w", err)
		}
		rep.Remaining = after.Failed()
		rep.Outcome = after.Outcome
		if after.Outcome == OutcomeConsistent {
			rep.Outcome = OutcomeRepaired
		}
	}
	rep.StartedAt, rep.FinishedAt = start, time.Now()
	rep.Seconds = rep.FinishedAt.Sub(start).Seconds()
	if opts.Record {
		if err := record(context.WithoutCancel(ctx), pool, rep, opts); err != nil {
			return nil, err
		}
	}
	opts.Logger.InfoContext(ctx, "audit", "outcome", rep.Outcome, "checks", len(rep.Checks), "seconds", rep.Seconds)
	return rep, nil
}

// auditWorkMem lets the audit's sorts and hashes of a whole catalog run in
// memory (the changelog replay sorts every event by packageset).
const auditWorkMem = "SET LOCAL work_mem = '128MB'"

// auditOnce runs every check on one snapshot.
func auditOnce(ctx context.Context, pool *pgxpool.Pool, opts AuditOpts) (*AuditReport, error) {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only: always rolled back
	if _, err := tx.Exec(ctx, auditWorkMem); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	rep := &AuditReport{Timings: map[string]float64{}}
	if rep.HeadSeq, err = changelog.Head(ctx, tx); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if rep.Checkpoints, err = readCheckpoints(ctx, tx); err != nil {
		return nil, err
	}

	start := time.Now()
	state, err := changelog.AuditState(ctx, tx, changelog.AuditParams{Checkpoints: rep.Checkpoints, MaxSamples: MaxSamples})
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	rep.Checks = append(rep.Checks, state...)
	rep.Timings["state"] = time.Since(start).Seconds()

	var compare []string
	for _, name := range opts.Projections {
		if cp := rep.Checkpoints[name]; cp < rep.HeadSeq {
			rep.Checks = append(rep.Checks, Check{Name: name, Skipped: fmt.Sprintf(
				"%s lags %d events behind the head (checkpoint %d, head %d): its tables are not comparable "+
					"with the current state until its worker applies them (or audit with catch-up)",
				name, rep.HeadSeq-cp, cp, rep.HeadSeq)})
			continue
		}
		compare = append(compare, name)
	}
	checks, timings, err := auditTables(ctx, tx, compare, rep.HeadSeq, opts)
	if err != nil {
		return nil, err
	}
	rep.Checks = append(rep.Checks, checks...)
	for k, v := range timings {
		rep.Timings[k] = v
	}
	rep.Outcome = outcome(rep.Checks)
	return rep, nil
}

// auditTables compares the derived tables of the named projections (caught
// up with head) with their recomputation.
func auditTables(ctx context.Context, tx pgx.Tx, names []string, head int64, opts AuditOpts) ([]Check, map[string]float64, error) {
	timings := map[string]float64{}
	var out []Check
	if len(names) == 0 {
		return nil, timings, nil
	}
	if slices.Contains(names, CatalogName) {
		start := time.Now()
		c, _, err := checkIdentities(ctx, tx, head)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, c)
		timings[CatalogName] += time.Since(start).Seconds()
	}
	if slices.Contains(names, HistoryName) && opts.ReplayHistory {
		start := time.Now()
		c, err := replayHistory(ctx, tx, head, opts.PageSize)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, c...)
		timings[HistoryName] += time.Since(start).Seconds()
	}
	for _, name := range names {
		start := time.Now()
		tables, err := recompute(ctx, tx, name)
		if err != nil {
			return nil, nil, fmt.Errorf("audit %s: %w", name, err)
		}
		for _, tb := range tables {
			cstart := time.Now()
			d, err := tb.compare(ctx, tx)
			if err != nil {
				return nil, nil, fmt.Errorf("audit %s: %w", name, err)
			}
			c := tableCheck(name, d)
			c.Seconds = time.Since(cstart).Seconds()
			out = append(out, c)
		}
		timings[name] += time.Since(start).Seconds()
	}
	return out, timings, nil
}

func tableCheck(projection string, d TableDiff) Check {
	c := Check{Name: projection + "." + d.Table, Compared: int64(d.Compared), Missing: int64(d.Missing),
		Extra: int64(d.Extra), Differing: int64(d.Differing)}
	for _, s := range d.Samples {
		c.Samples = append(c.Samples, changelog.Sample{Key: s.Key, Expected: s.Expected, Actual: s.Actual})
	}
	return c
}

// identityFix is what a repair does to identity rows.
type identityFix struct {
	emails, urls     []string
	maintIDs, urlIDs []int32
}

// checkIdentities compares the maintainers' and links' identity rows with
// the emails and URLs the changelog added up to seq.
func checkIdentities(ctx context.Context, tx pgx.Tx, seq int64) (Check, identityFix, error) {
	c := Check{Name: CheckIdentities}
	var fix identityFix
	var samples []byte
	start := time.Now()
	if err := tx.QueryRow(ctx, dlsql.Query("audit-identities"), seq, MaxSamples).
		Scan(&c.Compared, &c.Missing, &c.Extra, &samples, &fix.emails, &fix.urls, &fix.maintIDs, &fix.urlIDs); err != nil {
		return c, fix, fmt.Errorf("audit identities: %w", err)
	}
	if err := json.Unmarshal(samples, &c.Samples); err != nil {
		return c, fix, err
	}
	c.Seconds = time.Since(start).Seconds()
	return c, fix, nil
}

// projectHistory is project_history described as a table: one entry per
// (event, kind).
var projectHistory = table{name: "project_history", keys: []string{"seq", "kind"},
	values: []string{"project", "repo_id", "batch_id", "old_version", "new_version", "direction", "at"}}

// replayHistory rebuilds the history projection from seq 1 to head into
// temporary tables of the same names, by running the projection itself,
// writing pg_temp, over every page, and compares project_history and
// project_redirects with it (a check each). The temporary
// history_versions is dropped again (Verify recomputes it from the current
// state); the temporary logs stay until tx ends.
func replayHistory(ctx context.Context, tx pgx.Tx, head int64, pageSize int) ([]Check, error) {
	start := time.Now()
	for _, q := range []string{
		"CREATE TEMP TABLE history_versions (LIKE public.history_versions INCLUDING ALL) ON COMMIT DROP",
		"CREATE TEMP TABLE project_history (LIKE public.project_history INCLUDING ALL) ON COMMIT DROP",
		"CREATE TEMP TABLE project_redirects (LIKE public.project_redirects INCLUDING ALL) ON COMMIT DROP",
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("replaying history: %w", err)
		}
	}
	// The fold alone: the replay checks the set-based path too.
	replay := History{schema: tempSchema, bulkFrom: -1}
	for at := int64(0); at < head; {
		to := min(head, at+int64(pageSize))
		page, err := readPage(ctx, tx, at, to)
		if err != nil {
			return nil, fmt.Errorf("replaying history: %w", err)
		}
		if _, err := replay.Apply(ctx, tx, page); err != nil {
			return nil, fmt.Errorf("replaying history: page (%d, %d]: %w", at, to, err)
		}
		at = to
	}
	if _, err := tx.Exec(ctx, "DROP TABLE pg_temp.history_versions; ANALYZE pg_temp.project_history, pg_temp.project_redirects"); err != nil {
		return nil, fmt.Errorf("replaying history: %w", err)
	}
	d, err := projectHistory.compare(ctx, tx)
	if err != nil {
		return nil, err
	}
	c := tableCheck(HistoryName, d)
	// The join cannot see an entry applied twice: count those apart.
	var dups int64
	if err := tx.QueryRow(ctx, "SELECT count(*) - count(DISTINCT (seq, kind)) FROM public.project_history").Scan(&dups); err != nil {
		return nil, err
	}
	if dups > 0 {
		c.Extra += dups
		c.Note = fmt.Sprintf("%d entries are repeated (the same event and kind twice)", dups)
	}
	c.Seconds = time.Since(start).Seconds()
	// Its primary key keeps a redirect from being recorded twice.
	d, err = projectRedirects.compare(ctx, tx)
	if err != nil {
		return nil, err
	}
	return []Check{c, tableCheck(HistoryName, d)}, nil
}
