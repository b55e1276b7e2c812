package formats

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors. Errors about bad input are *ParseError values (locating
// the problem) that wrap one of these, so callers can both print a precise
// message and branch with errors.Is. ErrUnknownFormat is wrapped by a plain
// error; failures to open or read a file are the os package's errors.
var (
	// ErrUnknownFormat: the format name is not one of the supported ones.
	ErrUnknownFormat = errors.New("unknown input format")
	// ErrInvalidUTF8: the input contains bytes that are not valid UTF-8.
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	// ErrOversizedField: a field (deb822, including its continuation lines)
	// or a line (TSV, JSONL) is larger than MaxFieldSize, or a name, version
	// or URL is longer than MaxNameSize or MaxURLSize.
	ErrOversizedField = errors.New("oversized field")
	// ErrNULByte: a value contains a NUL byte, which PostgreSQL's text
	// cannot store.
	ErrNULByte = errors.New("NUL byte")
	// ErrMissingField: a required field or column is absent or empty.
	ErrMissingField = errors.New("missing required field")
	// ErrDuplicateField: a field appears twice in one stanza, or a column
	// name twice in a TSV header.
	ErrDuplicateField = errors.New("duplicate field")
	// ErrMalformed: a line, a stanza or a field value cannot be understood
	// (a deb822 line without a colon, a maintainer entry without an email,
	// a JSON syntax error …).
	ErrMalformed = errors.New("malformed input")
	// ErrColumnCount: a TSV row does not have as many columns as the header.
	ErrColumnCount = errors.New("wrong number of columns")
	// ErrUnknownField: a JSONL object has a field that events.Package does
	// not have.
	ErrUnknownField = errors.New("unknown field")
	// ErrCorrupt: compressed data is truncated or corrupt.
	ErrCorrupt = errors.New("corrupt or truncated compressed data")
	// ErrUnsupportedCompression: the file is compressed with a method this
	// package does not decompress (bzip2, zstd).
	ErrUnsupportedCompression = errors.New("unsupported compression")
)

// ParseError locates bad input: the file, the 1-based line and the field (or
// TSV column) where the problem is, and what the problem is. Parts that are
// unknown are zero and left out of the message:
//
//	Sources.xz:1234: field "Maintainer": invalid UTF-8
type ParseError struct {
	File  string
	Line  int
	Field string
	Err   error
}

// Error formats the location and the cause, leaving out unknown parts.
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(e.Line))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Field != "" {
		// A field name comes from the input: quoted, and cut when long.
		fmt.Fprintf(&b, "field %s: ", echo(e.Field))
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("parse error")
	}
	return b.String()
}

// Unwrap returns the cause, usually one of the sentinel errors above.
func (e *ParseError) Unwrap() error { return e.Err }
