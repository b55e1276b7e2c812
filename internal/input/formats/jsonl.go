package formats

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	// The encoding/json v2 design (a GOEXPERIMENT in Go's own library as
	// yet): three times the decoding speed of encoding/json v1 here, and
	// strict by default.
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

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
		n := lr.line
		if isBlank(line) {
			continue
		}
		// Invalid UTF-8 gets its own error (the decoder would refuse it
		// too, as a syntax error).
		if !utf8.Valid(line) {
			return stats, errorf(n, "", "%w", ErrInvalidUTF8)
		}

		var pkg events.Package
		if err := json.Unmarshal(line, &pkg, strict); err != nil {
			return stats, jsonError(name, n, err)
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
		if field, _, err := validatePackage(&pkg); err != nil {
			return stats, errorf(n, field, "%w", err)
		}
		pkg.Normalize()
		stats.Packages++
		if err := fn(pkg); err != nil {
			return stats, err
		}
	}
}

// strict are the decoding options: a field deltalog does not know is an
// error, not silently dropped (the defaults of json v2 already refuse
// duplicate names and invalid UTF-8, and match names case-sensitively).
var strict = json.RejectUnknownMembers(true)

// jsonError locates a decoding error: the field for type errors and unknown
// fields, the line always.
func jsonError(name string, line int, err error) error {
	pe := &ParseError{File: name, Line: line}
	var semErr *json.SemanticError
	var synErr *jsontext.SyntacticError
	switch {
	case errors.As(err, &semErr) && errors.Is(semErr.Err, json.ErrUnknownName):
		// The pointer ends at the unknown name: /links/0/href.
		pe.Field = semErr.JSONPointer.LastToken()
		pe.Err = ErrUnknownField
	case errors.As(err, &semErr):
		// A value of the wrong type: named by its top-level field.
		for tok := range semErr.JSONPointer.Tokens() {
			pe.Field = tok
			break
		}
		pe.Err = fmt.Errorf("%w: %s", ErrMalformed, err)
	case errors.As(err, &synErr) && errors.Is(synErr.Err, io.ErrUnexpectedEOF):
		pe.Err = fmt.Errorf("%w: truncated JSON value", ErrMalformed)
	case errors.As(err, &synErr):
		pe.Err = fmt.Errorf("%w: %s at byte %d", ErrMalformed, synErr.Err, synErr.ByteOffset)
	default:
		pe.Err = fmt.Errorf("%w: %s", ErrMalformed, err)
	}
	return pe
}
