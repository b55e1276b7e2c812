package formats

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
)

func TestJSONLFixture(t *testing.T) {
	t.Parallel()
	pkgs, stats := parseFixture(t, "packages.jsonl", JSONL)
	require.Equal(t, 5, stats.Packages)

	// The JSONL form of the Debian source 0ad parses to what the Debian
	// parser makes of the real stanza.
	sources, _ := parseFixture(t, "bookworm-main-Sources.xz", DebianSources)
	require.Equal(t, one(t, sources, "0ad"), one(t, pkgs, "0ad"))

	// Email lower-cased, as for Debian.
	require.Equal(t, []events.Maintainer{{Email: "david@4pane.co.uk", Name: "David Hart"}}, one(t, pkgs, "4pane").Maintainers)
	// project defaults to name.
	require.Equal(t, events.Package{
		Project: "requests",
		Name:    "requests",
		Version: "2.34.2",
		Summary: "Python HTTP for Humans.",
		Extra:   map[string]string{"month": "2026-05", "rank_among_15000_most_downloaded": "6"},
	}, one(t, pkgs, "requests"))
}

func TestJSONLErrors(t *testing.T) {
	t.Parallel()
	const good = `{"name":"requests","version":"2.34.2"}` + "\n"
	for _, tc := range []struct {
		name   string
		input  string
		line   int
		field  string
		target error
	}{
		{"unknown field", good + `{"name":"a","version":"1","homepage":"https://x"}` + "\n", 2, "homepage", ErrUnknownField},
		{"unknown nested field", good + `{"name":"a","version":"1","links":[{"kind":"homepage","href":"x"}]}` + "\n", 2, "href", ErrUnknownField},
		{"missing name", good + `{"version":"1"}` + "\n", 2, "name", ErrMissingField},
		{"missing version", good + "\n" + `{"name":"a","version":""}` + "\n", 3, "version", ErrMissingField},
		{"null", good + "null\n", 2, "name", ErrMissingField},
		{"wrong type", good + `{"name":"a","version":1.0}` + "\n", 2, "version", ErrMalformed},
		{"wrong extra type", good + `{"name":"a","version":"1","extra":{"downloads":5}}` + "\n", 2, "extra", ErrMalformed},
		{"syntax error", good + `{"name":"a",}` + "\n", 2, "", ErrMalformed},
		{"truncated", good + `{"name":"a"`, 2, "", ErrMalformed},
		{"two objects", good + `{"name":"a","version":"1"} {"name":"b","version":"1"}` + "\n", 2, "", ErrMalformed},
		{"array", good + `[{"name":"a","version":"1"}]` + "\n", 2, "", ErrMalformed},
		{"invalid UTF-8", good + "{\"name\":\"a\xff\",\"version\":\"1\"}\n", 2, "", ErrInvalidUTF8},
		{"maintainer without email", good + `{"name":"a","version":"1","maintainers":[{"name":"A"}]}` + "\n", 2, "maintainers", ErrMissingField},
		{"link without url", good + `{"name":"a","version":"1","links":[{"kind":"homepage"}]}` + "\n", 2, "links", ErrMissingField},
		{"oversized line", good + `{"name":"a","version":"1","summary":"` + strings.Repeat("x", MaxFieldSize) + `"}` + "\n", 2, "", ErrOversizedField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := parseAll(t, []byte(tc.input), JSONL)
			requireParseError(t, err, "input", tc.line, tc.field, tc.target)
		})
	}
}

// TestJSONLDocExample parses the example line of the package documentation,
// so that the documented format stays true.
func TestJSONLDocExample(t *testing.T) {
	t.Parallel()
	doc := string(mustRead(t, "doc.go"))
	var example string
	for line := range strings.Lines(doc) {
		if strings.HasPrefix(line, "//\t{") {
			example = strings.TrimPrefix(line, "//\t")
		}
	}
	require.NotEmpty(t, example, "doc.go has an indented JSON example")
	pkgs, _, err := parseAll(t, []byte(example), JSONL)
	require.NoError(t, err)
	require.Equal(t, []events.Package{{
		Project:     "0ad",
		Name:        "0ad",
		Version:     "0.0.26-3",
		Category:    "games",
		Maintainers: []events.Maintainer{{Email: "vcheng@debian.org", Name: "Vincent Cheng"}},
		Links:       []events.Link{{Kind: "homepage", URL: "https://play0ad.com/"}},
		Extra:       map[string]string{"architecture": "amd64"},
	}}, pkgs)
}
