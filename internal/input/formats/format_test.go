package formats

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
)

func TestParseFormat(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Format{
		"debian-sources":  DebianSources,
		"debian-packages": DebianPackages,
		"tsv":             TSV,
		"jsonl":           JSONL,
		" JSONL ":         JSONL,
	} {
		got, err := ParseFormat(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got)
	}
	for _, in := range []string{"", "deb", "json", "debian_sources"} {
		_, err := ParseFormat(in)
		require.ErrorIs(t, err, ErrUnknownFormat, in)
		require.ErrorContains(t, err, "debian-sources, debian-packages, tsv, jsonl", "the message lists the valid names")
	}
}

func TestParseUnknownFormat(t *testing.T) {
	t.Parallel()
	_, err := Parse(strings.NewReader(""), "x", Format("rpm-md"), func(events.Package) error { return nil })
	require.ErrorIs(t, err, ErrUnknownFormat)
	require.ErrorContains(t, err, `"rpm-md"`)
}

func TestParseErrorMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  *ParseError
		want string
	}{
		{&ParseError{File: "Sources.xz", Line: 12, Field: "Maintainer", Err: ErrInvalidUTF8}, `Sources.xz:12: field "Maintainer": invalid UTF-8`},
		{&ParseError{File: "Sources.xz", Line: 12, Err: ErrMalformed}, `Sources.xz:12: malformed input`},
		{&ParseError{File: "Sources.xz", Err: ErrCorrupt}, `Sources.xz: corrupt or truncated compressed data`},
		{&ParseError{Line: 3, Field: "version", Err: ErrMissingField}, `3: field "version": missing required field`},
		{&ParseError{Field: "name", Err: ErrMissingField}, `field "name": missing required field`},
		{&ParseError{}, `parse error`},
	} {
		require.Equal(t, tc.want, tc.err.Error())
	}
	pe := &ParseError{Err: io.ErrUnexpectedEOF}
	require.True(t, errors.Is(pe, io.ErrUnexpectedEOF))
}

// TestParseErrorFromParser checks a whole message as a user sees it.
func TestParseErrorFromParser(t *testing.T) {
	t.Parallel()
	input := "Package: 0xffff\nVersion: 0.9-1\nMaintainer: Sebastian Reichel <sre@debian.org>\nUploaders: Jos\xe9 <j@x.org>\n"
	_, err := Parse(strings.NewReader(input), "bookworm/Sources.xz", DebianSources, func(events.Package) error { return nil })
	require.EqualError(t, err, `bookworm/Sources.xz:4: field "Uploaders": invalid UTF-8`)
}
