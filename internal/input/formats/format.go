package formats

import (
	"fmt"
	"io"
	"strings"

	"github.com/deltalog/deltalog/events"
)

// Format names an input format.
type Format string

// The supported input formats.
const (
	// DebianSources is a Debian archive Sources index (deb822).
	DebianSources Format = "debian-sources"
	// DebianPackages is a Debian archive binary Packages index (deb822).
	DebianPackages Format = "debian-packages"
	// TSV is a tab-separated registry list with a header line.
	TSV Format = "tsv"
	// JSONL is one JSON-encoded events.Package per line.
	JSONL Format = "jsonl"
)

// MaxFieldSize bounds the memory one record can make the parser hold: a
// deb822 field (with its continuation lines) or a TSV / JSONL line larger
// than this is an ErrOversizedField error. The largest real field seen in
// Debian indexes (a Provides list of a Rust crate) is 75 KB.
const MaxFieldSize = 1 << 20

// maxSkippedLines is how many skipped line numbers Stats and Snapshot keep.
const maxSkippedLines = 10

// Formats returns the supported formats, in the order they are documented.
func Formats() []Format {
	return []Format{DebianSources, DebianPackages, TSV, JSONL}
}

// ParseFormat returns the Format named s (case-insensitive). An unknown name
// is an error wrapping ErrUnknownFormat whose message lists the valid names.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range Formats() {
		if f == known {
			return f, nil
		}
	}
	return "", fmt.Errorf("%w %q (valid: %s)", ErrUnknownFormat, s, validNames())
}

func validNames() string {
	names := make([]string, 0, len(Formats()))
	for _, f := range Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// Stats counts what Parse read.
type Stats struct {
	// Packages is the number of packages passed to the callback.
	Packages int
	// Skipped counts records that were dropped with a warning (a TSV row
	// without a version). Records that are ignored by design (deb822
	// stanzas with Extra-Source-Only: yes) are not counted.
	Skipped int
	// SkippedLines holds the line numbers of the first 10 skipped records.
	SkippedLines []int
}

func (s *Stats) skip(line int) {
	s.Skipped++
	if len(s.SkippedLines) < maxSkippedLines {
		s.SkippedLines = append(s.SkippedLines, line)
	}
}

// Parse reads one decompressed stream of format f and calls fn for every
// package, in file order. Every package is Normalized before fn sees it.
// name is only used in error messages (usually the file's path).
//
// Bad input stops parsing with a *ParseError. An error returned by fn stops
// parsing and is returned as is. The Stats are valid up to the point where
// parsing stopped.
//
// Packages passed to fn before an error are provisional: compressed input
// is verified as it is read (a corrupt block is detected after its data
// was decoded), so only a nil error says that the whole input was sound.
// Commit nothing before Parse returns.
func Parse(r io.Reader, name string, f Format, fn func(events.Package) error) (Stats, error) {
	switch f {
	case DebianSources:
		return parseDeb822(r, name, false, fn)
	case DebianPackages:
		return parseDeb822(r, name, true, fn)
	case TSV:
		return parseTSV(r, name, fn)
	case JSONL:
		return parseJSONL(r, name, fn)
	}
	return Stats{}, fmt.Errorf("%w %q (valid: %s)", ErrUnknownFormat, string(f), validNames())
}
