package projections

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/changelog"
	dlsql "github.com/deltalog/deltalog/sql"
)

// record stores the report in audit_runs (its ID is set) and prunes the
// clean runs beyond AuditRunsKept.
func record(ctx context.Context, db *pgxpool.Pool, rep *AuditReport, opts AuditOpts) error {
	body, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	if err := db.QueryRow(ctx, dlsql.Query("audit-run-insert"), rep.StartedAt, rep.FinishedAt, rep.HeadSeq,
		rep.Outcome, opts.Source, opts.Actor, body).Scan(&rep.ID); err != nil {
		return fmt.Errorf("recording audit: %w", err)
	}
	if _, err := db.Exec(ctx, dlsql.Query("audit-runs-prune"), AuditRunsKept); err != nil {
		return fmt.Errorf("pruning audit runs: %w", err)
	}
	return nil
}

// AuditRunsKept is how many clean audit runs audit_runs keeps (periodic
// audits would grow it without end); runs that found something are kept.
const AuditRunsKept = 1000

// AuditRun is a recorded audit, as `deltalog status` shows the last one.
type AuditRun struct {
	ID         int64     `json:"id"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	HeadSeq    int64     `json:"head_seq"`
	Outcome    string    `json:"outcome"`
	Source     string    `json:"source"`
	Actor      string    `json:"actor"`
	Checks     int       `json:"checks"`
	// Failed names the checks that found something (Skipped the ones that
	// could not run).
	Failed  []string `json:"failed,omitempty"`
	Skipped []string `json:"skipped,omitempty"`
}

// ReadLastAudit returns the last recorded audit, or nil when none ran.
func ReadLastAudit(ctx context.Context, q changelog.Querier) (*AuditRun, error) {
	var r AuditRun
	var body []byte
	err := q.QueryRow(ctx, dlsql.Query("audit-run-last")).
		Scan(&r.ID, &r.StartedAt, &r.FinishedAt, &r.HeadSeq, &r.Outcome, &r.Source, &r.Actor, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the last audit: %w", err)
	}
	var rep AuditReport
	if err := json.Unmarshal(body, &rep); err != nil {
		return nil, fmt.Errorf("reading the last audit: %w", err)
	}
	r.Checks = len(rep.Checks)
	for _, c := range rep.Checks {
		if !c.Clean() {
			r.Failed = append(r.Failed, c.Name)
		}
		if c.Skipped != "" {
			r.Skipped = append(r.Skipped, c.Name)
		}
	}
	return &r, nil
}

// AuditLoopOpts configures AuditLoop.
type AuditLoopOpts struct {
	// Every is the time between audits.
	Every time.Duration
	// Audit configures each audit (Record is implied, Source defaults to
	// "follow").
	Audit AuditOpts
	// ReportFunc, when set, receives each audit's report or error.
	ReportFunc func(*AuditReport, error)
}

// AuditLoop audits every opts.Every until ctx is done, recording each run in
// audit_runs, beside the workers that keep the projections: an audit reads
// its own snapshot, in which every page is applied whole or not at all, so
// it runs between pages without stopping them. Before each audit it waits
// (up to half the interval) for the audited projections to catch up with
// the head, so that they can be compared.
func AuditLoop(ctx context.Context, pool *pgxpool.Pool, opts AuditLoopOpts) error {
	if opts.Every <= 0 {
		return errors.New("audit loop: Every must be positive")
	}
	opts.Audit.Record = true
	opts.Audit.Source = cmp.Or(opts.Audit.Source, "follow")
	if err := opts.Audit.defaults(); err != nil {
		return err
	}
	tick := time.NewTicker(opts.Every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		waitCaughtUp(ctx, pool, opts.Audit.Projections, opts.Every/2)
		if ctx.Err() != nil {
			return nil
		}
		rep, err := Audit(ctx, pool, opts.Audit)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			opts.Audit.Logger.ErrorContext(ctx, "audit failed", "error", err)
		}
		if opts.ReportFunc != nil {
			opts.ReportFunc(rep, err)
		}
	}
}
