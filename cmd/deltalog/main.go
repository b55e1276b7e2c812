// Command deltalog ingests package repository snapshots into a changelog of
// checksummed deltas and keeps derived tables current from it.
//
// This file holds only wiring: flags, database connection, output. The work
// is done by the packages it calls.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/deltalog/deltalog/internal/pg/database"
)

const usage = `deltalog — delta-update engine for package catalogs

Usage:
  deltalog update --repo NAME --format FORMAT [--force] [--project] [--json] FILE...
  deltalog project [--follow] [--only NAME,...]
  deltalog tail [--from SEQ] [--limit N] [--follow] [--repo R]
  deltalog serve [--addr 127.0.0.1:8080]
  deltalog replicate --to nats://HOST:PORT [--stream NAME] [--until SEQ]
  deltalog follow --from http://HOST:PORT|nats://HOST:PORT --db FOLLOWER_URL [--until SEQ]
  deltalog status [--json]
  deltalog audit [--projection NAME...] [--repair] [--catch-up] [--replay-history] [--json]
  deltalog rebuild NAME...|--all [--from state|changelog]
  deltalog invalidate --all|--repo R|--project P [--reason TEXT]
  deltalog migrate
  deltalog db start|stop|status|url
  deltalog gen --out DIR [--packages N] [--repos N] [--seed N] [--gen G] [--rate R]
  deltalog bench [--packages N] [--rates 0.001,0.01,0.1] [--reps N] [--debian DIR] [--pypi FILE] [--json]

Formats: debian-sources, debian-packages, tsv, jsonl (files may be plain, .xz or .gz).

Every command uses --db URL or $DATABASE_URL when given; otherwise a private
PostgreSQL cluster under $DELTALOG_HOME (default ./.deltalog), started on demand.
Run "deltalog COMMAND -h" for a command's flags.
`

// exitError carries an exit status other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "deltalog:", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmds := map[string]func(context.Context, *env, []string) error{
		"update":    cmdUpdate,
		"project":   cmdProject,
		"tail":      cmdTail,
		"serve":     cmdServe,
		"replicate": cmdReplicate,
		"follow":    cmdFollow,
		"status":    cmdStatus,
		"migrate":   cmdMigrate,
		"db":        cmdDB,
		"gen":       cmdGen,
		"bench":     cmdBench,

		"audit":      cmdAudit, // audit.go: audits, rebuilds, invalidations
		"rebuild":    cmdRebuild,
		"invalidate": cmdInvalidate,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprint(stderr, usage)
		return &exitError{2, fmt.Errorf("unknown command %q", args[0])}
	}
	e := &env{stdout: stdout, stderr: stderr}
	return cmd(ctx, e, args[1:])
}

// env is what every command shares: output streams and the database flags.
type env struct {
	stdout, stderr io.Writer
	dbURL          string
	verbose        bool
}

// flags returns a FlagSet with the common flags registered.
func (e *env) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("deltalog "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&e.dbURL, "db", "", "PostgreSQL URL (default $DATABASE_URL, else the managed cluster)")
	fs.BoolVar(&e.verbose, "v", false, "log progress details to stderr")
	return fs
}

// parse parses flags, mapping usage errors to exit status 2.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{2, err}
	}
	return nil
}

func (e *env) logger() *slog.Logger {
	if !e.verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (e *env) dbOptions() database.Options {
	return database.Options{URL: e.dbURL, Logger: e.logger()}
}

func (e *env) open(ctx context.Context) (*pgxpool.Pool, error) {
	return database.Open(ctx, e.dbOptions())
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal reports whether f is a character device (a terminal), to decide
// whether to draw progress.
func isTerminal(f io.Writer) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
