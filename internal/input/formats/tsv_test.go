package formats

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
)

func TestTSVPyPIFixture(t *testing.T) {
	t.Parallel()
	pkgs, stats := parseFixture(t, "pypi.tsv", TSV)
	// 50 rows, three without a version (agent-framework, certifi,
	// dydx-v4-client on lines 39-41).
	require.Equal(t, 47, stats.Packages)
	require.Equal(t, 3, stats.Skipped)
	require.Equal(t, []int{39, 40, 41}, stats.SkippedLines)
	require.Empty(t, byName(pkgs, "certifi"))

	require.Equal(t, events.Package{
		Project: "requests",
		Name:    "requests",
		Version: "2.34.2",
		Summary: "Python HTTP for Humans.",
		Extra:   map[string]string{"month": "2026-05", "rank_among_15000_most_downloaded": "6"},
	}, one(t, pkgs, "requests"))
	// No summary, no rank: only the month is carried.
	require.Equal(t, events.Package{
		Project: "0bull",
		Name:    "0bull",
		Version: "0.3.0",
		Extra:   map[string]string{"month": "2026-09"},
	}, one(t, pkgs, "0bull"))
	require.Equal(t, "服务器登录工具", one(t, pkgs, "0lever-so").Summary)
}

func TestTSVNPMFixture(t *testing.T) {
	t.Parallel()
	pkgs, stats := parseFixture(t, "npm.tsv", TSV)
	require.Equal(t, 50, stats.Packages)
	require.Zero(t, stats.Skipped)

	require.Equal(t, events.Package{
		Project: "0x-js",
		Name:    "0x.js",
		Version: "9.2.0",
		Summary: "A javascript library for interacting with the 0x protocol",
		Extra:   map[string]string{"downloads_a_month": "1834"},
	}, one(t, pkgs, "0x.js"))
	require.Equal(t, "@types/node", one(t, pkgs, "@types/node").Project)
	require.Equal(t, "animationframe", one(t, pkgs, "AnimationFrame").Project)
	require.Equal(t, "@2060-io/ref-napi", one(t, pkgs, "@2060.io/ref-napi").Project)
	// A package called "name" on line 42 is a package, not a header.
	require.Equal(t, "0.0.2", one(t, pkgs, "name").Version)
}

func TestNormalizeName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"requests":          "requests",
		"Django":            "django",
		"zope.interface":    "zope-interface",
		"Foo__Bar-._-Baz":   "foo-bar-baz",
		"-lead.trail_":      "-lead-trail-",
		"a-b":               "a-b",
		"a--b":              "a-b",
		"@Scope/Name.JS":    "@scope/name-js",
		"ÄÖÜ.x":             "äöü-x",
		"":                  "",
		"already-normal-42": "already-normal-42",
	} {
		var scratch []byte
		require.Equal(t, want, normalizeName(in, &scratch), in)
	}
}

func TestTSVEmptyColumnsAndSpaces(t *testing.T) {
	t.Parallel()
	input := "\ufeffname\tversion\textra_col\tsummary\n" +
		"Foo_Bar\t1.0\t\t  spaced summary  \n" +
		"\n" + // blank lines are ignored
		"baz\t2.0\tx\t\r\n"
	pkgs, stats, err := parseAll(t, []byte(input), TSV)
	require.NoError(t, err)
	require.Equal(t, 2, stats.Packages)
	require.Equal(t, []events.Package{
		{Project: "foo-bar", Name: "Foo_Bar", Version: "1.0", Summary: "spaced summary"},
		{Project: "baz", Name: "baz", Version: "2.0", Extra: map[string]string{"extra_col": "x"}},
	}, pkgs)
}

func TestTSVSkippedLinesKeepsTen(t *testing.T) {
	t.Parallel()
	input := "name\tversion\n" + strings.Repeat("a\t\n", 12) + "b\t1\n"
	_, stats, err := parseAll(t, []byte(input), TSV)
	require.NoError(t, err)
	require.Equal(t, 1, stats.Packages)
	require.Equal(t, 12, stats.Skipped)
	require.Equal(t, []int{2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, stats.SkippedLines)
}

func TestTSVErrors(t *testing.T) {
	t.Parallel()
	const header = "name\tversion\tdownloads_a_month\tsummary\n"
	const row = "0http\t5.1.0\t24764\tZero friction HTTP request router. The need for speed!\n"
	for _, tc := range []struct {
		name   string
		input  string
		line   int
		field  string
		target error
	}{
		{"empty input", "", 1, "", ErrMissingField},
		{"no version column", "name\tsummary\n0http\tx\n", 1, "version", ErrMissingField},
		{"no name column", "package\tversion\n", 1, "name", ErrMissingField},
		{"duplicate column", "name\tversion\tname\n", 1, "name", ErrDuplicateField},
		{"unnamed column", "name\t\tversion\n", 1, "", ErrMalformed},
		{"invalid UTF-8 in header", "name\tversion\tsumm\xffary\n", 1, "", ErrInvalidUTF8},
		{"too few columns", header + row + "0x\t6.0.0\t324239\n", 3, "summary", ErrColumnCount},
		{"too many columns", header + row + row[:len(row)-1] + "\textra\n", 3, "column 5", ErrColumnCount},
		{"one column", header + "0x\n", 2, "version", ErrColumnCount},
		{"invalid UTF-8 in summary", header + row + "0x\t6.0.0\t324239\t\xf0\x9f\x94 single-command flamegraph\n", 3, "summary", ErrInvalidUTF8},
		{"invalid UTF-8 in name", header + "0\xe9\t6.0.0\t1\t\n", 2, "name", ErrInvalidUTF8},
		{"empty name", header + "\t6.0.0\t1\tx\n", 2, "name", ErrMissingField},
		{"oversized line", header + "a\t1\t1\t" + strings.Repeat("x", MaxFieldSize) + "\n", 2, "", ErrOversizedField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := parseAll(t, []byte(tc.input), TSV)
			requireParseError(t, err, "input", tc.line, tc.field, tc.target)
		})
	}
}
