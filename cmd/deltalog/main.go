// Command deltalog ingests package repository snapshots into a changelog of
// checksummed deltas and keeps derived tables current from it.
//
// This package holds only wiring: commands, flags, database connection,
// output. The work is done by the packages it calls.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/deltalog/deltalog/internal/pg/database"
	"github.com/deltalog/deltalog/internal/pg/pgcluster"
)

const rootLong = `deltalog — delta-update engine for package catalogs.

Snapshots of package repositories are parsed, hashed and diffed against the
stored state; the differences are appended to a changelog, and projection
workers apply them to derived tables.

Formats: debian-sources, debian-packages, tsv, jsonl (files may be plain, .xz or .gz).

Every command uses --db URL or $DATABASE_URL when given; otherwise a private
PostgreSQL cluster under $DELTALOG_HOME (default ./.deltalog), created and
started on demand by the commands that write (read-only commands such as
status, tail and audit refuse a home with no cluster).

Exit status: 0 success, 1 failure, 2 usage error, 3 follower divergence
(audit: 0 consistent, 1 inconsistent, 2 could not run).`

// Exit statuses.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitDiverged = 3
)

// exitError carries an exit status other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr marks a usage error: a bad flag value or argument.
type usageErr struct{ error }

func (u usageErr) Unwrap() error { return u.error }

// usageError marks err as a usage error (exit status 2, with a pointer to
// --help).
func usageError(err error) error { return &exitError{exitUsage, usageErr{err}} }

// shutdownGrace is how long a command has, after SIGINT or SIGTERM
// cancelled its context, to return on its own before the process exits
// anyway, so that any command ends within a second of the signal. Every
// read and query honours the context; what cannot be cancelled is a
// system call such as opening a FIFO that no one writes to. Exiting is
// safe for the database: a transaction in flight rolls back when its
// connection closes with the process.
const shutdownGrace = 800 * time.Millisecond

// signalled is the cause of the context of a command ended by a signal.
type signalled struct{ sig syscall.Signal }

func (s *signalled) Error() string { return "interrupted by " + signalName(s.sig) }

// exitCode is the shell's status of a process ended by the signal: 130 for
// SIGINT, 143 for SIGTERM.
func (s *signalled) exitCode() int { return 128 + int(s.sig) }

func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := &signalled{(<-sigs).(syscall.Signal)}
		cancel(s)
		time.Sleep(shutdownGrace)
		fmt.Fprintf(os.Stderr, "deltalog: %v: did not stop within %s, exiting\n", s, shutdownGrace)
		os.Exit(s.exitCode())
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit status. Errors
// are printed once, to stderr, prefixed with the command.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	root := newRootCmd(e)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	var sig *signalled
	if errors.As(context.Cause(ctx), &sig) {
		// Whatever the command made of its cancelled context — an error,
		// or a clean stop of a command that runs until stopped — the
		// signal ended it.
		if err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), err)
		}
		fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), sig)
		return sig.exitCode()
	}
	if err == nil {
		return exitOK
	}
	code := exitFailure
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case !e.ran:
		// cobra failed before the command ran: an unknown command or flag,
		// a bad flag value, wrong arguments.
		code = exitUsage
	}
	fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), err)
	if !e.ran || errors.As(err, new(usageErr)) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// newRootCmd builds the command tree.
func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "deltalog",
		Short: "Delta-update engine for package catalogs",
		Long:  rootLong,
		Example: `  deltalog update --repo debian_12 --format debian-sources --project Sources.xz
  deltalog status
  deltalog completion bash > /etc/bash_completion.d/deltalog`,
		// Runnable, so that an unknown command is a usage error rather than
		// the help text.
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q", args[0])
			}
			return nil
		},
		RunE:              func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		SilenceErrors:     true,
		SilenceUsage:      true,
		DisableAutoGenTag: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if err := e.dbOptions().Validate(); err != nil {
				return usageError(err)
			}
			return nil
		},
	}
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	pf := root.PersistentFlags()
	pf.StringVar(&e.dbURL, "db", "", "PostgreSQL URL (default $DATABASE_URL, else the managed cluster under $DELTALOG_HOME)")
	pf.BoolVarP(&e.verbose, "verbose", "v", false, "log progress details to stderr")

	root.AddGroup(&cobra.Group{ID: "data", Title: "Ingesting and projecting:"},
		&cobra.Group{ID: "check", Title: "Auditing and repairing:"},
		&cobra.Group{ID: "replication", Title: "Replication:"},
		&cobra.Group{ID: "admin", Title: "Database and tooling:"})
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("data", newUpdateCmd(e), newProjectCmd(e), newTailCmd(e), newStatusCmd(e), newReportCmd(e))
	add("check", newAuditCmd(e), newRebuildCmd(e), newInvalidateCmd(e))
	add("replication", newServeCmd(e), newReplicateCmd(e), newFollowCmd(e))
	add("admin", newMigrateCmd(e), newDBCmd(e), newGenCmd(e), newBenchCmd(e), newSoakCmd(e))
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.HasSubCommands() {
			needSubcommand(c)
		}
	}
	return root
}

// needSubcommand makes a command that only groups subcommands (db,
// completion) refuse to run without one, or with an unknown one, as a usage
// error, rather than print its help and exit 0.
func needSubcommand(c *cobra.Command) {
	var names []string
	for _, sub := range c.Commands() {
		names = append(names, sub.Name())
	}
	want := strings.Join(names, ", ")
	c.Args = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unknown %s command %q (want %s)", c.Name(), args[0], want)
		}
		return nil
	}
	c.RunE = func(*cobra.Command, []string) error {
		return usageError(fmt.Errorf("%s needs one of %s", c.Name(), want))
	}
}

// env is what every command shares: output streams and the database flags.
type env struct {
	stdout, stderr io.Writer
	dbURL          string
	verbose        bool
	// ran is set once a command's body starts: an error before it is a
	// usage error.
	ran bool
	// longRunning is set by the commands that run until interrupted
	// (project --follow, serve, replicate, follow): they wait for a
	// database that cannot be reached, and report warnings even without
	// --verbose.
	longRunning bool
}

// runE adapts a command body to cobra, recording that it ran.
func (e *env) runE(body func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e.ran = true
		return body(cmd.Context(), args)
	}
}

func (e *env) logger() *slog.Logger {
	switch {
	case e.verbose:
		return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	case e.longRunning:
		// "waiting for the database", a failing page: an operator must see them.
		return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

func (e *env) dbOptions() database.Options {
	return database.Options{URL: e.dbURL, Wait: e.longRunning, Logger: e.logger()}
}

// open opens the database, creating and starting the managed cluster if
// needed (the commands that write).
func (e *env) open(ctx context.Context) (*pgxpool.Pool, error) {
	return database.Open(ctx, e.dbOptions())
}

// openExisting opens the database for the read-only commands: a managed
// cluster must exist already (it is started if stopped, never created).
func (e *env) openExisting(ctx context.Context) (*pgxpool.Pool, error) {
	o := e.dbOptions()
	o.MustExist = true
	pool, err := database.Open(ctx, o)
	if errors.Is(err, pgcluster.ErrNoCluster) {
		return nil, fmt.Errorf("%w ($DELTALOG_HOME): create one with `deltalog db start` or any command that writes "+
			"(update, migrate), or name a server with --db or $DATABASE_URL", err)
	}
	return pool, err
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
