package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/projections"
)

// listFlag collects a repeatable, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Type() string   { return "names" }
func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

func newAuditCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check the current state, the changelog and the derived tables against each other",
		Long: `Check the stored state checksums, the changelog and every projection's tables against a
recomputation, and record the run (see status). With --repair, rewrite what is wrong in one
transaction, then audit again. Read-only without --repair: on a $DELTALOG_HOME with no cluster it
fails rather than create one.

Exit status: 0 consistent (or repaired), 1 inconsistent, 2 could not run (or a projection could
not be compared).`,
		Example: `  deltalog audit
  deltalog audit --projection catalog --catch-up --json
  deltalog audit --repair`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	var only listFlag
	fs.Var(&only, "projection", "audit only this projection's tables (repeatable, or comma-separated; default all: "+
		strings.Join(projections.Names(), ",")+"); the current state and the changelog are always checked")
	repair := fs.Bool("repair", false, "rewrite what the audit finds wrong, in one transaction, then audit again")
	catchUp := fs.Bool("catch-up", false, "apply the pages the projections have pending first, so that none is skipped for lagging")
	replay := fs.Bool("replay-history", false, "also check project_history against a replay of the whole changelog")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cmd.RunE = e.runE(func(ctx context.Context, _ []string) error {
		open := e.openExisting
		if *repair {
			open = e.open
		}
		pool, err := open(ctx)
		if err != nil {
			return &exitError{2, err}
		}
		defer pool.Close()
		rep, err := projections.Audit(ctx, pool, projections.AuditOpts{
			Projections: only, Repair: *repair, CatchUp: *catchUp, ReplayHistory: *replay,
			Record: true, Source: "cli", Logger: e.logger(),
		})
		if err != nil {
			return &exitError{2, err}
		}
		if *asJSON {
			if err := writeJSON(e.stdout, rep); err != nil {
				return err
			}
		} else {
			printAudit(e.stdout, rep)
		}
		switch rep.Outcome {
		case projections.OutcomeConsistent, projections.OutcomeRepaired:
			return nil
		case projections.OutcomeIncomplete:
			return &exitError{2, errors.New("audit incomplete: a check could not run")}
		}
		return &exitError{exitFailure, fmt.Errorf("inconsistent (%d checks found wrong rows)", len(rep.Failed()))}
	})
	return cmd
}

func printAudit(w io.Writer, rep *projections.AuditReport) {
	fmt.Fprintf(w, "audit #%d: %s — head seq %d, %d checks in %.2fs", rep.ID, rep.Outcome, rep.HeadSeq, len(rep.Checks), rep.Seconds)
	var parts []string
	for _, g := range append([]string{"state"}, projections.Names()...) {
		if s, ok := rep.Timings[g]; ok {
			parts = append(parts, fmt.Sprintf("%s %.2fs", g, s))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  %-38s %10s %8s %8s %10s\n", "check", "compared", "missing", "extra", "differing")
	for _, c := range rep.Checks {
		printCheck(w, c)
	}
	if len(rep.Repairs) > 0 {
		fmt.Fprintln(w, "repair (one transaction, under the update, append and checkpoint locks):")
		for _, c := range rep.Repairs {
			if c.Repaired == nil {
				fmt.Fprintf(w, "  %-38s not repaired", c.Name)
				if c.Note != "" {
					fmt.Fprintf(w, ": %s", c.Note)
				}
				fmt.Fprintln(w)
				continue
			}
			r := c.Repaired
			fmt.Fprintf(w, "  %-38s %d deleted, %d inserted, %d updated", c.Name, r.Deleted, r.Inserted, r.Updated)
			if r.Invalidated > 0 {
				fmt.Fprintf(w, ", %d packagesets invalidated (re-stated by the next update)", r.Invalidated)
			}
			fmt.Fprintln(w)
		}
		if len(rep.Remaining) == 0 {
			fmt.Fprintln(w, "after the repair: consistent")
		} else {
			fmt.Fprintln(w, "after the repair, still wrong:")
			for _, c := range rep.Remaining {
				printCheck(w, c)
			}
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func printCheck(w io.Writer, c projections.Check) {
	if c.Skipped != "" {
		fmt.Fprintf(w, "  %-38s skipped: %s\n", c.Name, c.Skipped)
		return
	}
	mark := " "
	if !c.Clean() {
		mark = "!"
	}
	fmt.Fprintf(w, "%s %-38s %10d %8d %8d %10d\n", mark, c.Name, c.Compared, c.Missing, c.Extra, c.Differing)
	for _, s := range c.Samples {
		fmt.Fprintf(w, "      %s: expected %s, found %s\n", compact(s.Key), compact(s.Expected), compact(s.Actual))
	}
	if c.Note != "" {
		fmt.Fprintf(w, "      (%s)\n", c.Note)
	}
}

// compact renders a JSON value on one line, or "none" for null.
func compact(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return "none"
	}
	var v any
	if json.Unmarshal(raw, &v) == nil {
		if b, err := json.Marshal(v); err == nil {
			s = string(b)
		}
	}
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

func newRebuildCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rebuild NAME...|--all",
		Short: "Rebuild projections' tables beside the live ones and swap them in",
		Long: `Rebuild the tables of the named projections (` + strings.Join(projections.Names(), ", ") + `) in a side schema, from
the current state or by replaying the changelog, catch up with what was appended meanwhile, and
swap them in; readers of the live tables are not blocked until the swap.`,
		Example: `  deltalog rebuild catalog --from changelog
  deltalog rebuild --all --json`,
		ValidArgs: projections.Names(),
	}
	fs := cmd.Flags()
	all := fs.Bool("all", false, "rebuild every projection ("+strings.Join(projections.Names(), ", ")+")")
	from := fs.String("from", projections.FromState, "build from the current \"state\" (full-rebuild queries) or the \"changelog\" (every event from seq 1)")
	pageSize := fs.Int("page-size", 10000, "most events applied in one transaction (replay and catch-up)")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	cmd.RunE = e.runE(func(ctx context.Context, names []string) error {
		if *all == (len(names) > 0) {
			return usageError(errors.New("rebuild needs projection names or --all"))
		}
		if *from != projections.FromState && *from != projections.FromChangelog {
			return usageError(fmt.Errorf("--from %q: want state or changelog", *from))
		}
		for _, n := range names {
			if !slices.Contains(projections.Names(), n) {
				return usageError(fmt.Errorf("unknown projection %q (known: %v)", n, projections.Names()))
			}
		}
		pool, err := e.open(ctx)
		if err != nil {
			return err
		}
		defer pool.Close()
		bar := newRebuildBar(e.stderr)
		res, err := projections.Rebuild(ctx, pool, projections.RebuildOpts{
			Projections: names, From: *from, PageSize: *pageSize, Logger: e.logger(), ProgressFunc: bar.update,
		})
		bar.done()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%w (interrupted: the live tables are untouched; run it again)", err)
			}
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, res)
		}
		for _, r := range res {
			fmt.Fprintf(e.stdout, "%s: rebuilt from %s at seq %d (+%d events caught up), %d rows in %d tables, "+
				"swapped in %.0fms (%d attempts), checkpoint %d, %.2fs\n",
				r.Projection, r.From, r.BuiltAt, r.CaughtUp, r.Rows, len(r.Tables), r.SwapSeconds*1000, r.SwapAttempts,
				r.Checkpoint, r.Seconds)
		}
		return nil
	})
	return cmd
}

// rebuildBar draws a rebuild's progress on a terminal (nothing otherwise),
// with update's bar.
type rebuildBar struct {
	w     io.Writer
	tty   bool
	start time.Time
	mu    sync.Mutex
	last  time.Time
}

func newRebuildBar(w io.Writer) *rebuildBar {
	return &rebuildBar{w: w, tty: isTerminal(w), start: time.Now()}
}

func (b *rebuildBar) update(p projections.RebuildProgress) {
	if !b.tty {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.Phase != "done" && p.Phase != "swap" && time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	labels := map[string]string{"prepare": "preparing", "build": "building tables", "replay": "replaying events",
		"catch-up": "catching up", "swap": "swapping in", "done": "done"}
	line := fmt.Sprintf("%s: %s", p.Projection, labels[p.Phase])
	if p.Total > 0 && p.Phase != "swap" {
		line += fmt.Sprintf(" %s %5.1f%% (%d/%d)", bar(min(p.Done, p.Total), p.Total, 30),
			100*float64(p.Done)/float64(p.Total), p.Done, p.Total)
	} else if p.Phase == "swap" && p.Done > 1 {
		line += fmt.Sprintf(" (attempt %d)", p.Done)
	}
	fmt.Fprintf(b.w, "\r\033[K%s %.1fs", line, time.Since(b.start).Seconds())
}

func (b *rebuildBar) done() {
	if b.tty {
		fmt.Fprint(b.w, "\r\033[K")
	}
}

func newInvalidateCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "invalidate --all|--repo R|--project P",
		Short: "Mark packagesets to be re-stated in full by their repository's next update",
		Long: `Mark packagesets as invalidated: the next update of each repository re-states them as
"invalidated" events, whatever their checksums, so that the projections re-derive them (after a
parser fix, for example).`,
		Example: `  deltalog invalidate --repo debian_12 --reason "Vcs-* parsing fixed"
  deltalog invalidate --project openssl
  deltalog invalidate --all`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	all := fs.Bool("all", false, "every packageset of every repository")
	repo := fs.String("repo", "", "the packagesets of this repository (with --project: one packageset)")
	project := fs.String("project", "", "this project's packagesets, in every repository (or in --repo)")
	reason := fs.String("reason", "", "why (recorded with the batch that carries the invalidation)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	cmd.RunE = e.runE(func(ctx context.Context, _ []string) error {
		if *all == (*repo != "" || *project != "") {
			return usageError(errors.New("invalidate needs --all, or --repo and/or --project"))
		}
		pool, err := e.open(ctx)
		if err != nil {
			return err
		}
		defer pool.Close()
		res, err := changelog.Invalidate(ctx, pool, changelog.InvalidateParams{All: *all, Repo: *repo, Project: *project, Reason: *reason})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, res)
		}
		for _, r := range res.Repos {
			fmt.Fprintf(e.stdout, "%s: %d packagesets invalidated (invalidation #%d)\n", r.Repo, r.Packagesets, r.ID)
		}
		fmt.Fprintf(e.stdout, "the next update of each repository re-states them as `invalidated` events (by %s", res.Actor)
		if res.Reason != "" {
			fmt.Fprintf(e.stdout, ": %s", res.Reason)
		}
		fmt.Fprintln(e.stdout, ")")
		return nil
	})
	return cmd
}

// hashSeed is update's --hash-seed: the flag, else $DELTALOG_HASH_SEED, else
// the default seed (0 tells ingest to use it).
func hashSeed(flagValue string) (uint64, error) {
	s := flagValue
	if s == "" {
		s = os.Getenv("DELTALOG_HASH_SEED")
	}
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("hash seed %q: want a non-zero number (decimal, or 0x… hex)", s)
	}
	return v, nil
}

// startAuditLoop runs `project --follow --audit-every`'s audits beside the
// worker, printing one line per audit; wait returns once it has stopped
// (after ctx ends).
func startAuditLoop(ctx context.Context, e *env, pool *pgxpool.Pool, every time.Duration, only []string) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = projections.AuditLoop(ctx, pool, projections.AuditLoopOpts{
			Every: every,
			Audit: projections.AuditOpts{Projections: only, Source: "follow", Logger: e.logger()},
			ReportFunc: func(rep *projections.AuditReport, err error) {
				if err != nil {
					fmt.Fprintf(e.stderr, "deltalog: audit: %v\n", err)
					return
				}
				var failed []string
				for _, c := range rep.Failed() {
					failed = append(failed, c.Name)
				}
				line := fmt.Sprintf("audit #%d: %s at head seq %d (%d checks, %.2fs)", rep.ID, rep.Outcome, rep.HeadSeq, len(rep.Checks), rep.Seconds)
				if len(failed) > 0 {
					line += ": " + strings.Join(failed, ", ") + " (run `deltalog audit` for the rows)"
				}
				fmt.Fprintln(e.stdout, line)
			},
		})
	}()
	return func() { <-done }
}

// auditStatus is what `deltalog status` shows of audits and invalidations.
type auditStatus struct {
	LastAudit            *projections.AuditRun           `json:"last_audit"`
	PendingInvalidations []changelog.PendingInvalidation `json:"pending_invalidations"`
}

func readAuditStatus(ctx context.Context, pool *pgxpool.Pool) (*auditStatus, error) {
	last, err := projections.ReadLastAudit(ctx, pool)
	if err != nil {
		return nil, err
	}
	pending, err := changelog.ReadPendingInvalidations(ctx, pool)
	if err != nil {
		return nil, err
	}
	if pending == nil {
		pending = []changelog.PendingInvalidation{}
	}
	return &auditStatus{LastAudit: last, PendingInvalidations: pending}, nil
}

func printAuditStatus(w io.Writer, s *auditStatus) {
	if a := s.LastAudit; a == nil {
		fmt.Fprintln(w, "last audit: never")
	} else {
		fmt.Fprintf(w, "last audit #%d: %s at head seq %d, %s (%s by %s, %d checks, %.2fs)", a.ID, a.Outcome, a.HeadSeq,
			a.FinishedAt.Local().Format("2006-01-02 15:04:05"), a.Source, a.Actor, a.Checks, a.FinishedAt.Sub(a.StartedAt).Seconds())
		if len(a.Failed) > 0 {
			fmt.Fprintf(w, "; wrong: %s", strings.Join(a.Failed, ", "))
		}
		if len(a.Skipped) > 0 {
			fmt.Fprintf(w, "; skipped: %s", strings.Join(a.Skipped, ", "))
		}
		fmt.Fprintln(w)
	}
	for _, p := range s.PendingInvalidations {
		fmt.Fprintf(w, "invalidation pending: %s, %d packagesets since %s (re-stated by its next update)\n",
			p.Repo, p.Packagesets, p.Since.Local().Format("2006-01-02 15:04:05"))
	}
}
