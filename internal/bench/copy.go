package bench

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/input/version"
)

// copyColumns are the packages table's columns, as the update writes them.
const copyColumns = "repo_id, project, checksum, name, version, version_key, summary, category, maintainers, links, extra"

// copyFloor renders the package rows of files (one repository each, in
// the given input format) in COPY text format once, then times COPYing
// them into a table without index: the physical floor of loading the same
// data.
func (h *harness) copyFloor(ctx context.Context, format formats.Format, files []string) (Case, error) {
	path := filepath.Join(h.dir, "copy-floor.txt")
	defer os.Remove(path)
	if _, err := renderCopy(ctx, format, files, path); err != nil {
		return Case{}, err
	}
	if _, err := h.pool.Exec(ctx, query("copy-floor-create")); err != nil {
		return Case{}, err
	}
	rec := newCase(CaseCopy, "raw COPY of the same package rows into a table without index")
	for i := range h.cfg.Reps {
		if _, err := h.pool.Exec(ctx, query("copy-floor-truncate")); err != nil {
			return Case{}, err
		}
		f, err := os.Open(path)
		if err != nil {
			return Case{}, err
		}
		conn, err := h.pool.Acquire(ctx)
		if err != nil {
			f.Close()
			return Case{}, err
		}
		start := time.Now()
		tag, err := conn.Conn().PgConn().CopyFrom(ctx, bufio.NewReaderSize(f, 1<<20),
			"COPY bench.copy_floor ("+copyColumns+") FROM STDIN")
		d := time.Since(start)
		conn.Release()
		f.Close()
		if err != nil {
			return Case{}, err
		}
		rec.addDB(d, tag.RowsAffected())
		h.progress("%s %d/%d: %d rows in %.2fs", CaseCopy, i+1, h.cfg.Reps, tag.RowsAffected(), d.Seconds())
	}
	c := rec.done(h.rep)
	c.Note = "rows rendered up front; parse + hash not included"
	if _, err := h.pool.Exec(ctx, query("copy-floor-drop")); err != nil {
		return Case{}, err
	}
	return c, nil
}

// renderCopy writes the rows the update would COPY into packages for the
// snapshots in files of the format (repository i+1 for files[i]).
func renderCopy(ctx context.Context, format formats.Format, files []string, path string) (int64, error) {
	out, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	w := bufio.NewWriterSize(out, 1<<20)
	var rows int64
	var line []byte
	hs := hashing.New(hashing.DefaultSeed)
	for i, file := range files {
		snap, err := formats.ReadSnapshot(ctx, format, []string{file})
		if err != nil {
			return 0, err
		}
		repoID := strconv.Itoa(i + 1)
		for _, ps := range hashing.Group(hs, snap.Packages).Packagesets {
			for _, hp := range ps.Packages {
				line, err = appendCopyRow(line[:0], repoID, &hp)
				if err != nil {
					return 0, err
				}
				if _, err := w.Write(line); err != nil {
					return 0, err
				}
				rows++
			}
		}
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return rows, out.Close()
}

func appendCopyRow(buf []byte, repoID string, hp *hashing.Hashed) ([]byte, error) {
	p := &hp.Pkg
	maint, links, extra := p.Maintainers, p.Links, p.Extra
	if maint == nil {
		maint = []events.Maintainer{}
	}
	if links == nil {
		links = []events.Link{}
	}
	if extra == nil {
		extra = map[string]string{}
	}
	mj, err := json.Marshal(maint)
	if err != nil {
		return nil, err
	}
	lj, err := json.Marshal(links)
	if err != nil {
		return nil, err
	}
	ej, err := json.Marshal(extra)
	if err != nil {
		return nil, err
	}
	buf = append(buf, repoID...)
	buf = append(buf, '\t')
	buf = appendCopyText(buf, p.Project)
	buf = append(buf, '\t')
	buf = strconv.AppendInt(buf, hp.Sum.Int64(), 10)
	buf = append(buf, '\t')
	buf = appendCopyText(buf, p.Name)
	buf = append(buf, '\t')
	buf = appendCopyText(buf, p.Version)
	buf = append(buf, "\t\\\\x"...)
	buf = hex.AppendEncode(buf, version.SchemeKey(version.SchemeGeneric, p.Version))
	buf = append(buf, '\t')
	buf = appendCopyText(buf, p.Summary)
	buf = append(buf, '\t')
	buf = appendCopyText(buf, p.Category)
	buf = append(buf, '\t')
	buf = appendCopyText(buf, string(mj))
	buf = append(buf, '\t')
	buf = appendCopyText(buf, string(lj))
	buf = append(buf, '\t')
	buf = appendCopyText(buf, string(ej))
	return append(buf, '\n'), nil
}

var copyEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)

// appendCopyText appends s escaped for COPY's text format.
func appendCopyText(buf []byte, s string) []byte {
	if !strings.ContainsAny(s, "\\\t\n\r") {
		return append(buf, s...)
	}
	return append(buf, copyEscaper.Replace(s)...)
}
