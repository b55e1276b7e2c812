package main

import (
	"context"
	"fmt"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/internal/pg/database"
	"github.com/deltalog/deltalog/projections"
	dlsql "github.com/deltalog/deltalog/sql"
)

func cmdStatus(ctx context.Context, e *env, args []string) error {
	fs := e.flags("status")
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	pool, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	st, err := changelog.ReadStatus(ctx, pool)
	if err != nil {
		return err
	}
	ps, err := projections.ReadStatus(ctx, pool)
	if err != nil {
		return err
	}
	as, err := readAuditStatus(ctx, pool)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, struct {
			*changelog.Status
			Projections []projections.Status `json:"projections"`
			*auditStatus
		}{st, ps, as})
	}
	fmt.Fprintf(e.stdout, "head seq %d, state checksum %s\n", st.HeadSeq, st.StateChecksum)
	for _, r := range st.Repositories {
		fmt.Fprintf(e.stdout, "  %-24s %9d packages %9d packagesets  %s  updated %s\n",
			r.Name, r.Packages, r.Packagesets, r.StateChecksum, r.UpdatedAt.Format("2006-01-02 15:04:05"))
	}
	for _, p := range ps {
		fmt.Fprintf(e.stdout, "projection %-8s checkpoint %d, lag %d, %s", p.Name, p.Checkpoint, p.Lag, p.State)
		if p.Error != "" {
			fmt.Fprintf(e.stdout, ": %s", p.Error)
		}
		fmt.Fprintln(e.stdout)
	}
	printAuditStatus(e.stdout, as)
	return nil
}

func cmdMigrate(ctx context.Context, e *env, args []string) error {
	fs := e.flags("migrate")
	if err := parse(fs, args); err != nil {
		return err
	}
	pool, err := e.open(ctx) // Open migrates.
	if err != nil {
		return err
	}
	pool.Close()
	fmt.Fprintf(e.stdout, "schema up to date (%s)\n", dlsql.MigrationsHash())
	return nil
}

func cmdDB(ctx context.Context, e *env, args []string) error {
	fs := e.flags("db")
	fs.Usage = func() { fmt.Fprintln(e.stderr, "usage: deltalog db start|stop|status|url") }
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{2, fmt.Errorf("db needs one of start, stop, status, url")}
	}
	c, err := database.Cluster(e.dbOptions())
	if err != nil {
		return err
	}
	switch fs.Arg(0) {
	case "start":
		if err := c.Start(ctx); err != nil {
			return err
		}
		if err := c.EnsureDatabase(ctx, database.DefaultName); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, c.URL(database.DefaultName))
	case "stop":
		return c.Stop(ctx)
	case "status":
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		return writeJSON(e.stdout, st)
	case "url":
		fmt.Fprintln(e.stdout, c.URL(database.DefaultName))
	default:
		fs.Usage()
		return &exitError{2, fmt.Errorf("unknown db command %q", fs.Arg(0))}
	}
	return nil
}
