package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// script is a run of a page's parameterless statements, sent as one
// multi-statement query (PostgreSQL's simple protocol) in one round trip.
//
// A small page is about a hundred statements that each take a few
// microseconds on the server; sent one by one, the page paid a round trip
// for each — on a busy machine, waits for a core, which cost more than the
// statements. In one query they run back to back, each still planned when
// it runs (as a statement of its own would be), so that its plan fits the
// scratch tables as the statements before it left them: a cached plan, made
// for the first page's few rows, could not be trusted with a page of
// thousands.
//
// The steps (a statement, or a query of sql/queries of several) run in
// order, inside the page's transaction; the first statement that fails
// stops the rest. The server sends the results when the query ends, so a
// step's time is taken on the server: a marker statement before the first
// step and after each reads the server's clock, and the page's stats
// record the differences.
type script struct {
	stmts []scriptStmt
}

type scriptStmt struct {
	what, sql string
	// count: the statement is a SELECT of one integer, given to done;
	// otherwise done (if set) gets the rows it affected.
	count bool
	done  func(int64)
}

// exec adds a statement.
func (s *script) exec(what, sql string) { s.add(what, sql, false, nil) }

// rows adds a statement whose affected rows are given to done.
func (s *script) rows(what, sql string, done func(int64)) { s.add(what, sql, false, done) }

// count adds a SELECT of one integer (a count), given to done.
func (s *script) count(what, sql string, done func(int64)) { s.add(what, sql, true, done) }

func (s *script) add(what, sql string, count bool, done func(int64)) {
	// The separator must not be swallowed by a trailing comment nor make
	// an empty statement.
	sql = strings.TrimRight(strings.TrimSpace(sql), ";")
	s.stmts = append(s.stmts, scriptStmt{what: what, sql: sql, count: count, done: done})
}

// scriptMarker names the column of the marker statements, which read the
// server's clock before the first step and after each: a step may be
// several statements (a query of sql/queries), so the results of one end
// where its marker's begins.
const scriptMarker = "deltalog_script_step"

func markerSQL(i int) string {
	return fmt.Sprintf("SELECT %d AS %s, extract(epoch FROM clock_timestamp())::float8;\n", i, scriptMarker)
}

// run sends the steps and reads their results; the script is empty
// afterwards.
func (s *script) run(ctx context.Context, tx pgx.Tx) error {
	steps := s.stmts
	s.stmts = nil
	if len(steps) == 0 {
		return nil
	}
	var sql strings.Builder
	sql.WriteString(markerSQL(-1))
	for i, st := range steps {
		sql.WriteString(st.sql + "\n;\n" + markerSQL(i))
	}
	stats, log := statsFrom(ctx), loggerFrom(ctx)
	debug := log.Enabled(ctx, slog.LevelDebug)
	mrr := tx.Conn().PgConn().Exec(ctx, sql.String())
	var last float64 // the server's clock at the last marker, in seconds
	step, counted := -1, false
	var n int64
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		if step >= len(steps) {
			_ = mrr.Close()
			return fmt.Errorf("script: results after its %d steps", len(steps))
		}
		what := "script"
		if step >= 0 {
			what = steps[step].what
		}
		if fds := rr.FieldDescriptions(); len(fds) == 2 && fds[0].Name == scriptMarker {
			var now float64
			var err error
			if rr.NextRow() {
				now, err = strconv.ParseFloat(string(rr.Values()[1]), 64)
			}
			if _, cerr := rr.Close(); cmp.Or(cerr, err) != nil {
				_ = mrr.Close()
				return fmt.Errorf("%s: %w", what, cmp.Or(cerr, err))
			}
			if step < 0 {
				last, step = now, 0
				continue
			}
			st := steps[step]
			d := time.Duration((now - last) * float64(time.Second))
			stats.addTime(st.what, d)
			if debug {
				first, _, _ := strings.Cut(st.sql, "\n")
				log.DebugContext(ctx, "statement", "what", st.what, "rows", n,
					"ms", d.Milliseconds(), "sql", first[:min(len(first), 90)])
			}
			if st.count && !counted {
				_ = mrr.Close()
				return fmt.Errorf("%s: no count", st.what)
			}
			if st.done != nil {
				st.done(n)
			}
			last, step, counted, n = now, step+1, false, 0
			continue
		}
		if step < 0 {
			_ = mrr.Close()
			return errors.New("script: a result before its first marker")
		}
		st := steps[step]
		var err error
		if st.count && !counted {
			counted = true
			if rr.NextRow() && len(rr.Values()) == 1 {
				n, err = strconv.ParseInt(string(rr.Values()[0]), 10, 64)
			} else {
				err = errors.New("want one integer")
			}
		}
		tag, cerr := rr.Close()
		if err = cmp.Or(cerr, err); err != nil {
			_ = mrr.Close()
			return fmt.Errorf("%s: %w", st.what, err)
		}
		if !st.count {
			n += tag.RowsAffected()
		}
	}
	if err := mrr.Close(); err != nil {
		// A statement failed: one of the step after the last marker read.
		what := "script"
		if step >= 0 && step < len(steps) {
			what = steps[step].what
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if step != len(steps) {
		return fmt.Errorf("script: %d of %d steps answered", step, len(steps))
	}
	return nil
}
