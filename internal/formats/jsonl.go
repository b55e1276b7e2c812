package formats

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/deltalog/deltalog/events"
)

// parseJSONL reads one JSON object per line (see the package documentation
// for the format). Blank lines are ignored.
func parseJSONL(r io.Reader, name string, fn func(events.Package) error) (Stats, error) {
	var stats Stats
	lr := newLineReader(r)
	errorf := func(line int, field string, format string, args ...any) error {
		return &ParseError{File: name, Line: line, Field: field, Err: fmt.Errorf(format, args...)}
	}
	var lower []byte
	intern := interner{}
	br := bytes.NewReader(nil)
	for {
		line, err := lr.next()
		switch {
		case err == io.EOF:
			return stats, nil
		case err == errLineTooLong:
			return stats, errorf(lr.line, "", "%w: line longer than %d bytes", ErrOversizedField, MaxFieldSize)
		case err != nil:
			return stats, readError(name, lr.line, err)
		}
		n := lr.line
		if isBlank(line) {
			continue
		}
		// encoding/json silently replaces invalid UTF-8 with U+FFFD; a
		// catalog feeding deltalog should hear about it instead.
		if !utf8.Valid(line) {
			return stats, errorf(n, "", "%w", ErrInvalidUTF8)
		}

		br.Reset(line)
		dec := json.NewDecoder(br)
		dec.DisallowUnknownFields()
		var pkg events.Package
		if err := dec.Decode(&pkg); err != nil {
			return stats, jsonError(name, n, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return stats, errorf(n, "", "%w: more than one JSON value on the line", ErrMalformed)
		}
		if pkg.Name == "" {
			return stats, errorf(n, "name", "%w", ErrMissingField)
		}
		if pkg.Version == "" {
			return stats, errorf(n, "version", "%w", ErrMissingField)
		}
		if pkg.Project == "" {
			pkg.Project = pkg.Name
		}
		for i, m := range pkg.Maintainers {
			if m.Email == "" {
				return stats, errorf(n, "maintainers", "%w: entry %d has no email", ErrMissingField, i+1)
			}
			// The email, lower-cased, is the identity, as for Debian.
			pkg.Maintainers[i].Email = intern.lower([]byte(m.Email), &lower)
		}
		for i, l := range pkg.Links {
			if l.Kind == "" || l.URL == "" {
				return stats, errorf(n, "links", "%w: entry %d needs both kind and url", ErrMissingField, i+1)
			}
		}
		pkg.Normalize()
		stats.Packages++
		if err := fn(pkg); err != nil {
			return stats, err
		}
	}
}

// jsonError locates a decoding error: the field for type errors and unknown
// fields, the line always.
func jsonError(name string, line int, err error) error {
	pe := &ParseError{File: name, Line: line}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		pe.Field = typeErr.Field
		pe.Err = fmt.Errorf("%w: %s", ErrMalformed, err)
	case errors.As(err, &syntaxErr):
		pe.Err = fmt.Errorf("%w: %s at byte %d", ErrMalformed, err, syntaxErr.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no type for this error; its message is
		// `json: unknown field "name"`.
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		if uq, err := strconv.Unquote(field); err == nil {
			field = uq
		}
		pe.Field = field
		pe.Err = ErrUnknownField
	case err == io.ErrUnexpectedEOF:
		pe.Err = fmt.Errorf("%w: truncated JSON value", ErrMalformed)
	default:
		pe.Err = fmt.Errorf("%w: %s", ErrMalformed, err)
	}
	return pe
}
