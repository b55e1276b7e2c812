package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/ingest"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/internal/pg/pgcluster"
)

func newUpdateCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update --repo NAME --format FORMAT FILE...",
		Short: "Apply a snapshot of a repository: diff it against the stored state, append the changes to the changelog",
		Long: `Apply a snapshot of one repository, read from one or more files (plain, .xz or .gz), applied in
order: a later file replaces earlier packages of the same name (a suite, then its overlays).

The snapshot is diffed against the stored state; what changed is appended to the changelog with the
new state in one transaction. A snapshot with no packages, or with fewer than half the repository's
current packages, is refused unless --force.`,
		Example: `  deltalog update --repo debian_12 --format debian-sources bookworm-Sources.xz bookworm-updates-Sources.xz --project
  deltalog update --repo pypi --format tsv --version-scheme pypi pypi.tsv.xz --json`,
		Args: cobra.MinimumNArgs(1),
	}
	fs := cmd.Flags()
	repo := fs.String("repo", "", "repository name (required), e.g. debian_12")
	format := fs.String("format", "", "input format: debian-sources, debian-packages, tsv, jsonl (required)")
	force := fs.Bool("force", false, "apply an empty snapshot or one under half the repository's size")
	reparse := fs.Bool("reparse", false, "read the files even when they are byte-identical to the last batch's input")
	parseCache := fs.String("parse-cache", "", "directory keeping the parse of each file of a snapshot of several files, so that an unchanged suite read with new overlays is not parsed again (default $DELTALOG_HOME/parse-cache; \"off\" for none)")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	project := fs.Bool("project", false, "apply the projections right after the update")
	var pf projectFlags
	pf.register(fs)
	scheme := fs.String("version-scheme", "", "version order: debian, pypi, semver (alias npm), generic (default: debian for Debian formats, generic for jsonl; tsv needs one)")
	seedFlag := fs.String("hash-seed", "", "xxhash seed, decimal or 0x… (default $DELTALOG_HASH_SEED, else 0x64656c74616c6f67); a change re-derives the repository")
	cmd.RunE = e.runE(func(ctx context.Context, args []string) error {
		seed, err := hashSeed(*seedFlag)
		if err != nil {
			return usageError(err)
		}
		if *repo == "" || *format == "" {
			return usageError(fmt.Errorf("update needs --repo, --format and at least one FILE"))
		}
		if err := formats.ValidateRepo(*repo); err != nil {
			return usageError(fmt.Errorf("--repo: %w", err))
		}
		f, err := formats.ParseFormat(*format)
		if err != nil {
			return usageError(err)
		}
		if *scheme != "" && !version.Valid(version.Scheme(*scheme)) {
			return usageError(fmt.Errorf("--version-scheme %q: want debian, pypi, semver (or npm) or generic", *scheme))
		}
		if *project {
			if err := pf.check(); err != nil {
				return err
			}
		}

		pool, err := e.open(ctx)
		if err != nil {
			return err
		}
		defer pool.Close()
		u, err := changelog.NewUpdater(pool, changelog.Config{Logger: e.logger()})
		if err != nil {
			return err
		}

		var cache *formats.ParseCache
		switch *parseCache {
		case "off":
		case "":
			cache = &formats.ParseCache{Dir: filepath.Join(pgcluster.DefaultHome(), "parse-cache")}
		default:
			cache = &formats.ParseCache{Dir: *parseCache}
		}
		prog := newProgress(e.stderr, *repo)
		sum, err := ingest.Run(ctx, u, ingest.Params{
			Repo: *repo, Format: f, Files: args, Force: *force, Reparse: *reparse, PhaseFunc: prog.phase, ProgressFunc: prog.bytes,
			VersionScheme: version.Scheme(*scheme), Seed: seed, ParseCache: cache,
		})
		if err == nil && *project {
			prog.phase("project")
			err = projectAfterUpdate(ctx, e, pool, &pf, sum)
		}
		prog.done()
		if err != nil {
			return err
		}
		if len(sum.SkippedLines) > 0 {
			fmt.Fprintf(e.stderr, "deltalog: skipped %d rows without a version, first at %s\n",
				sum.Skipped, strings.Join(sum.SkippedLines, ", "))
		}
		if sum.Duplicates > 0 {
			fmt.Fprintf(e.stderr, "deltalog: dropped %d duplicate packages: %s\n",
				sum.Duplicates, strings.Join(sum.DuplicateSamples, "; "))
		}
		if *asJSON {
			return writeJSON(e.stdout, sum)
		}
		printSummary(e, sum)
		return nil
	})
	return cmd
}

func printSummary(e *env, s *ingest.Summary) {
	w := e.stdout
	switch {
	case s.ParseSkipped:
		fmt.Fprintf(w, "%s: unchanged — the input of batch %d byte for byte, not parsed; %d packages in %d packagesets, nothing written (%.2fs)\n",
			s.Repo, s.BatchOfInput, s.Packages, s.Packagesets, s.Seconds)
	case s.Batch == 0:
		fmt.Fprintf(w, "%s: unchanged — %d packages in %d packagesets, nothing written (%.2fs)\n",
			s.Repo, s.Packages, s.Packagesets, s.Seconds)
	default:
		fmt.Fprintf(w, "%s: batch %d — %d packages in %d packagesets\n", s.Repo, s.Batch, s.Packages, s.Packagesets)
		fmt.Fprintf(w, "  packagesets: %d added, %d changed, %d removed, %d invalidated, %d unchanged\n",
			s.Added, s.Changed, s.Removed, s.Invalidated, s.Unchanged)
		fmt.Fprintf(w, "  changelog:   %d events, seq %d..%d\n", s.Events, s.FirstSeq, s.HeadSeq)
		fmt.Fprintf(w, "  time:        %.2fs (parse %.2fs, diff %.2fs, write %.2fs)\n",
			s.Seconds, s.ParseSeconds, s.DiffSeconds, s.WriteSeconds)
	}
	if s.ProjectSeconds != nil {
		fmt.Fprintf(w, "  projections: caught up in %.2fs\n", *s.ProjectSeconds)
	}
	fmt.Fprintf(w, "  state:       %s (repository), %s (global), head seq %d\n",
		s.RepoStateChecksum, s.StateChecksum, s.HeadSeq)
}

// projectAfterUpdate runs the projections until they have caught up with the
// update just made, and records the time in the summary.
func projectAfterUpdate(ctx context.Context, e *env, pool *pgxpool.Pool, pf *projectFlags, sum *ingest.Summary) error {
	start := time.Now()
	r, err := pf.runner(e, pool)
	if err != nil {
		return err
	}
	if err := r.Run(ctx, false); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	sum.ProjectSeconds = &secs
	sum.Seconds += secs
	return nil
}
