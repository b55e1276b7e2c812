package formats

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/deltalog/deltalog/events"
)

// parseTSV reads a registry list: a header line naming the columns, then one
// package per line, columns separated by tabs. There is no quoting: a value
// cannot contain a tab or a newline.
func parseTSV(r io.Reader, name string, fn func(events.Package) error) (Stats, error) {
	var stats Stats
	lr := newLineReader(r)
	errorf := func(line int, field string, format string, args ...any) error {
		return &ParseError{File: name, Line: line, Field: field, Err: fmt.Errorf(format, args...)}
	}

	header, err := lr.next()
	switch {
	case err == io.EOF:
		return stats, errorf(1, "", "%w: empty input, want a header line", ErrMissingField)
	case err == errLineTooLong && bytes.IndexByte(header, 0) >= 0:
		return stats, errorf(lr.line, "", "%w in header", ErrNULByte)
	case err == errLineTooLong:
		return stats, errorf(lr.line, "", "%w: header longer than %d bytes", ErrOversizedField, MaxFieldSize)
	case err != nil:
		return stats, readError(name, lr.line, err)
	}
	// Spreadsheet exports start with a byte order mark.
	header = bytes.TrimPrefix(header, []byte("\ufeff"))
	if err := checkLine(header); err != nil {
		return stats, errorf(1, "", "%w in header", err)
	}
	cols := strings.Split(string(header), "\t")
	nameCol, versionCol, summaryCol := -1, -1, -1
	for i, c := range cols {
		c = strings.TrimSpace(c)
		cols[i] = c
		if c == "" {
			return stats, errorf(1, "", "%w: column %d has no name", ErrMalformed, i+1)
		}
		if len(c) > MaxNameSize {
			return stats, errorf(1, "", "column %d: %w", i+1, checkValue(c, MaxNameSize))
		}
		if j := indexOf(cols[:i], c); j >= 0 {
			return stats, errorf(1, c, "%w: columns %d and %d", ErrDuplicateField, j+1, i+1)
		}
		switch c {
		case "name":
			nameCol = i
		case "version":
			versionCol = i
		case "summary":
			summaryCol = i
		}
	}
	for _, req := range []struct {
		name string
		col  int
	}{{"name", nameCol}, {"version", versionCol}} {
		if req.col < 0 {
			return stats, errorf(1, req.name, "%w: the header has no %q column", ErrMissingField, req.name)
		}
	}

	intern := interner{}
	var lower []byte
	fields := make([][]byte, len(cols))
	for {
		line, err := lr.next()
		switch {
		case err == io.EOF:
			return stats, nil
		case err == errLineTooLong && bytes.IndexByte(line, 0) >= 0:
			return stats, errorf(lr.line, "", "%w", ErrNULByte)
		case err == errLineTooLong:
			return stats, errorf(lr.line, "", "%w: line longer than %d bytes", ErrOversizedField, MaxFieldSize)
		case err != nil:
			return stats, readError(name, lr.line, err)
		}
		if len(line) == 0 {
			continue
		}
		n := lr.line

		// Split without allocating; count columns even past the header's.
		got := 0
		for rest := line; ; got++ {
			i := bytes.IndexByte(rest, '\t')
			if got < len(fields) {
				if i < 0 {
					fields[got] = rest
				} else {
					fields[got] = rest[:i]
				}
			}
			if i < 0 {
				got++
				break
			}
			rest = rest[i+1:]
		}
		if got != len(cols) {
			col := fmt.Sprintf("column %d", len(cols)+1)
			if got < len(cols) {
				col = cols[got]
			}
			return stats, errorf(n, col, "%w: %d, the header has %d", ErrColumnCount, got, len(cols))
		}
		if checkLine(line) != nil {
			for i, f := range fields {
				if err := checkLine(f); err != nil {
					return stats, errorf(n, cols[i], "%w", err)
				}
			}
		}

		pkgName := trimSpace(fields[nameCol])
		if len(pkgName) == 0 {
			return stats, errorf(n, "name", "%w", ErrMissingField)
		}
		version := trimSpace(fields[versionCol])
		if len(version) == 0 {
			// Registries list names without any release (pypi has 22).
			stats.skip(n)
			continue
		}
		pkg := events.Package{
			Name:    string(pkgName),
			Version: string(version),
		}
		pkg.Project = normalizeName(pkg.Name, &lower)
		for i, f := range fields {
			if i == nameCol || i == versionCol {
				continue
			}
			v := trimSpace(f)
			if len(v) == 0 {
				continue
			}
			if i == summaryCol {
				pkg.Summary = string(v)
				continue
			}
			if pkg.Extra == nil {
				pkg.Extra = make(map[string]string, len(cols)-2)
			}
			pkg.Extra[cols[i]] = intern.get(v)
		}
		if field, value, err := validatePackage(&pkg); err != nil {
			return stats, errorf(n, tsvColumn(cols, fields, field, value), "%w", err)
		}
		pkg.Normalize()
		stats.Packages++
		if err := fn(pkg); err != nil {
			return stats, err
		}
	}
}

// tsvColumn names the column a package field came from, given the value at
// fault.
func tsvColumn(cols []string, fields [][]byte, field, value string) string {
	if field == "project" {
		field = "name"
	}
	if field == "extra" {
		for i, f := range fields {
			if string(trimSpace(f)) == value {
				return cols[i]
			}
		}
	}
	return field
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// normalizeName is the PEP 503 normalization, used as the project of every
// TSV package: lower case, and every run of "-", "_" and "." becomes one
// "-". It returns name itself (no allocation) when it is already normal.
// Lower-casing is Unicode-aware for the rare non-ASCII name.
func normalizeName(name string, scratch *[]byte) string {
	normal := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' || c == '_' || c == '.' ||
			c == '-' && i+1 < len(name) && isSep(name[i+1]) {
			normal = false
			break
		}
	}
	if normal {
		return name
	}
	buf := (*scratch)[:0]
	sep := false
	for _, r := range strings.ToLower(name) {
		if r < utf8.RuneSelf && isSep(byte(r)) {
			sep = true
			continue
		}
		if sep {
			buf = append(buf, '-')
			sep = false
		}
		buf = utf8.AppendRune(buf, r)
	}
	if sep {
		buf = append(buf, '-')
	}
	*scratch = buf
	return string(buf)
}

func isSep(c byte) bool { return c == '-' || c == '_' || c == '.' }
