package formats

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
)

func TestDebianSourcesFixture(t *testing.T) {
	t.Parallel()
	pkgs, stats := parseFixture(t, "bookworm-main-Sources.xz", DebianSources)
	// 143 stanzas, one of them Extra-Source-Only (alabaster 0.7.8-1.1).
	require.Equal(t, 142, stats.Packages)
	require.Zero(t, stats.Skipped)

	require.Equal(t, events.Package{
		Project:  "0ad",
		Name:     "0ad",
		Version:  "0.0.26-3",
		Category: "games",
		Maintainers: []events.Maintainer{
			{Email: "pkg-games-devel@lists.alioth.debian.org", Name: "Debian Games Team"},
			{Email: "rousseau@debian.org", Name: "Ludovic Rousseau"},
			{Email: "vcheng@debian.org", Name: "Vincent Cheng"},
		},
		Links: []events.Link{
			{Kind: "homepage", URL: "https://play0ad.com/"},
			{Kind: "vcs-browser", URL: "https://salsa.debian.org/games-team/0ad"},
			{Kind: "vcs-git", URL: "https://salsa.debian.org/games-team/0ad.git"},
		},
	}, pkgs[0])

	// Uploaders: "Adam C. Powell, IV" <hazelsct@debian.org>
	hypre := one(t, pkgs, "hypre")
	require.Equal(t, "2.26.0-3", hypre.Version)
	require.Equal(t, "math", hypre.Category)
	require.Equal(t, []events.Maintainer{
		{Email: "debian-science-maintainers@lists.alioth.debian.org", Name: "Debian Science Maintainers"},
		{Email: "hazelsct@debian.org", Name: "Adam C. Powell, IV"},
	}, hypre.Maintainers)

	// Vcs-Git: https://github.com/kilobyte/3270font.git -b debian
	require.Contains(t, one(t, pkgs, "3270font").Links,
		events.Link{Kind: "vcs-git", URL: "https://github.com/kilobyte/3270font.git"})
	// Vcs-Svn and Vcs-Bzr are links too.
	require.Contains(t, one(t, pkgs, "afuse").Links, events.Link{Kind: "vcs-svn", URL: "https://bollin.googlecode.com/svn/afuse/"})
	require.Contains(t, one(t, pkgs, "bash").Links, events.Link{Kind: "vcs-bzr", URL: "http://bazaar.launchpad.net/~doko/+junk/pkg-bash-debian"})

	// Maintainer: David Hart <david@4Pane.co.uk>: the email is lower-cased,
	// the homepage is kept as written.
	fourPane := one(t, pkgs, "4pane")
	require.Equal(t, []events.Maintainer{{Email: "david@4pane.co.uk", Name: "David Hart"}}, fourPane.Maintainers)
	require.Contains(t, fourPane.Links, events.Link{Kind: "homepage", URL: "https://www.4Pane.co.uk"})

	// Two versions of one source in one file are two packages.
	astropy := byName(pkgs, "astropy")
	require.Len(t, astropy, 2)
	require.Equal(t, "5.2.1-2", astropy[0].Version)
	require.Equal(t, "5.2.1-2+deb12u1", astropy[1].Version)

	// The Extra-Source-Only stanza of alabaster (0.7.8-1.1) is ignored.
	require.Equal(t, "0.7.12-1", one(t, pkgs, "alabaster").Version)

	for _, p := range pkgs {
		require.Equal(t, p.Name, p.Project)
		require.Empty(t, p.Summary, "Sources have no Description")
		require.Nil(t, p.Extra, "Sources carry no extras")
		require.NotEmpty(t, p.Maintainers, p.Name)
	}
}

func TestDebianPackagesFixture(t *testing.T) {
	t.Parallel()
	pkgs, stats := parseFixture(t, "bookworm-main-Packages-amd64.gz", DebianPackages)
	require.Equal(t, 138, stats.Packages)

	require.Equal(t, events.Package{
		Project:     "0ad",
		Name:        "0ad",
		Version:     "0.0.26-3",
		Summary:     "Real-time strategy game of ancient warfare",
		Category:    "games",
		Maintainers: []events.Maintainer{{Email: "pkg-games-devel@lists.alioth.debian.org", Name: "Debian Games Team"}},
		Links:       []events.Link{{Kind: "homepage", URL: "https://play0ad.com/"}},
		Extra:       map[string]string{"architecture": "amd64"},
	}, pkgs[0])

	// Source: 0ad-data
	common := one(t, pkgs, "0ad-data-common")
	require.Equal(t, "0ad-data", common.Project)
	require.Equal(t, "Real-time strategy game of ancient warfare (common data files)", common.Summary)
	require.Equal(t, map[string]string{"architecture": "all"}, common.Extra)

	// Source: 2048-qt (0.1.6-2), a binNMU.
	qt := one(t, pkgs, "2048-qt")
	require.Equal(t, "2048-qt", qt.Project)
	require.Equal(t, "0.1.6-2+b2", qt.Version)
	require.Equal(t, map[string]string{"architecture": "amd64", "source_version": "0.1.6-2"}, qt.Extra)

	// Maintainer: Steve Langasek <vorlon@debian.org>, Michael Vogt <michael.vogt@ubuntu.com>
	require.Equal(t, []events.Maintainer{
		{Email: "michael.vogt@ubuntu.com", Name: "Michael Vogt"},
		{Email: "vorlon@debian.org", Name: "Steve Langasek"},
	}, one(t, pkgs, "golang-github-mvo5-goconfigparser-dev").Maintainers)

	docs := byName(pkgs, "linux-doc")
	require.Len(t, docs, 2)
	require.Equal(t, []string{"6.1.170-3", "6.1.176-1"}, []string{docs[0].Version, docs[1].Version})
	require.Equal(t, "linux", docs[0].Project)

	for _, p := range pkgs {
		require.NotEmpty(t, p.Extra["architecture"], p.Name)
		require.NotEmpty(t, p.Summary, p.Name)
	}
}

// TestGolden compares the full parse of each fixture with a golden file,
// one JSON package per line. Rewrite them with -update after checking the
// diff.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fixture string
		format  Format
	}{
		{"bookworm-updates-main-Sources.xz", DebianSources},
		{"bookworm-updates-main-Packages-amd64.xz", DebianPackages},
		{"pypi.tsv", TSV},
		{"npm.tsv", TSV},
		{"packages.jsonl", JSONL},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			pkgs, _ := parseFixture(t, tc.fixture, tc.format)
			var got bytes.Buffer
			for _, p := range pkgs {
				line, err := json.Marshal(p)
				require.NoError(t, err)
				got.Write(line)
				got.WriteByte('\n')
			}
			golden := fixture("golden/" + strings.TrimSuffix(tc.fixture, ".xz") + ".golden.jsonl")
			if *update {
				require.NoError(t, os.MkdirAll(fixture("golden"), 0o755))
				require.NoError(t, os.WriteFile(golden, got.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create it")
			require.Equal(t, string(want), got.String())
		})
	}
}

func TestDeb822Lenient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		binary bool
		input  string
		want   []events.Package
	}{{
		name:  "CRLF, whitespace-only separator, no final newline",
		input: "Package: a\r\nVersion: 1\r\n \t\r\nPackage: b\r\nVersion: 2",
		want: []events.Package{
			{Project: "a", Name: "a", Version: "1"},
			{Project: "b", Name: "b", Version: "2"},
		},
	}, {
		name:  "field names are case-insensitive",
		input: "package: a\nVERSION: 1\nhomepage: https://example.org/\nvcs-GIT: https://example.org/a.git\n",
		want: []events.Package{{
			Project: "a", Name: "a", Version: "1",
			Links: []events.Link{{Kind: "homepage", URL: "https://example.org/"}, {Kind: "vcs-git", URL: "https://example.org/a.git"}},
		}},
	}, {
		name:  "several blank lines and a leading one",
		input: "\n\nPackage: a\nVersion: 1\n\n\n\n",
		want:  []events.Package{{Project: "a", Name: "a", Version: "1"}},
	}, {
		// A folded Uploaders field, as in debian/control files.
		name:  "continuation lines of a kept field",
		input: "Package: a\nVersion: 1\nUploaders: A <a@x.org>,\n B <b@x.org>\n",
		want: []events.Package{{
			Project: "a", Name: "a", Version: "1",
			Maintainers: []events.Maintainer{{Email: "a@x.org", Name: "A"}, {Email: "b@x.org", Name: "B"}},
		}},
	}, {
		name:  "Extra-Source-Only stanza ignored",
		input: "Package: a\nVersion: 1\nExtra-Source-Only: yes\n\nPackage: a\nVersion: 2\n",
		want:  []events.Package{{Project: "a", Name: "a", Version: "2"}},
	}, {
		name:  "same maintainer twice",
		input: "Package: a\nVersion: 1\nMaintainer: A <A@x.org>\nUploaders: A. <a@x.org>, \n",
		want: []events.Package{{
			Project: "a", Name: "a", Version: "1",
			Maintainers: []events.Maintainer{{Email: "a@x.org", Name: "A"}},
		}},
	}, {
		// Packages files with long descriptions inline (no Translation
		// files): the summary is the first line.
		name:   "Description with a long description",
		binary: true,
		input:  "Package: a\nVersion: 1\nArchitecture: all\nDescription: short\n long line one\n .\n line two\n",
		want: []events.Package{{
			Project: "a", Name: "a", Version: "1", Summary: "short",
			Extra: map[string]string{"architecture": "all"},
		}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			format := DebianSources
			if tc.binary {
				format = DebianPackages
			}
			got, stats, err := parseAll(t, []byte(tc.input), format)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, len(tc.want), stats.Packages)
		})
	}
}

func TestDeb822Errors(t *testing.T) {
	t.Parallel()
	const stanza = "Package: 0xffff\nVersion: 0.9-1\nMaintainer: Sebastian Reichel <sre@debian.org>\n"
	huge := strings.Repeat("x", MaxFieldSize)
	for _, tc := range []struct {
		name   string
		format Format
		input  string
		line   int
		field  string
		target error
	}{
		{"line without colon", DebianSources, stanza + "Build-Depends debhelper\n", 4, "", ErrMalformed},
		{"empty field name", DebianSources, stanza + ": x\n", 4, "", ErrMalformed},
		{"continuation outside a stanza", DebianSources, stanza + "\n continued\n", 5, "", ErrMalformed},
		{"missing Package", DebianSources, stanza + "\nVersion: 1\nSection: misc\n", 5, "Package", ErrMissingField},
		{"empty Package", DebianSources, stanza + "\nPackage:\nVersion: 1\n", 5, "Package", ErrMissingField},
		{"missing Version", DebianSources, stanza + "\n\nPackage: a\nSection: misc\n", 6, "Version", ErrMissingField},
		{"duplicate field", DebianSources, stanza + "Version: 1\n", 4, "Version", ErrDuplicateField},
		{"duplicate Vcs field", DebianSources, stanza + "Vcs-Git: a\nVcs-Git: b\n", 5, "Vcs-Git", ErrDuplicateField},
		{"invalid UTF-8 in Maintainer", DebianSources, "Package: a\nVersion: 1\nMaintainer: Jos\xe9 <j@x.org>\n", 3, "Maintainer", ErrInvalidUTF8},
		{"invalid UTF-8 in a dropped field", DebianPackages, stanza + "Depends: libc6\nTag: role::\xff\n", 5, "Tag", ErrInvalidUTF8},
		{"invalid UTF-8 in a continuation line", DebianPackages, stanza + "Description: x\n long \xc3\x28 text\n", 5, "Description", ErrInvalidUTF8},
		{"invalid UTF-8 in a field name", DebianSources, stanza + "X-\xff: y\n", 4, "X-\uFFFD", ErrInvalidUTF8},
		{"maintainer without email", DebianSources, stanza + "Uploaders: Sebastian Reichel\n", 4, "Uploaders", ErrMalformed},
		{"empty angle brackets", DebianSources, "Package: a\nVersion: 1\nMaintainer: A <>\n", 3, "Maintainer", ErrMalformed},
		{"unterminated angle bracket", DebianSources, stanza + "Uploaders: A <a@x.org\n", 4, "Uploaders", ErrMalformed},
		{"malformed Source", DebianPackages, stanza + "Source: 0xffff (0.9-1\n", 4, "Source", ErrMalformed},
		{"oversized single line", DebianSources, stanza + "Binary: " + huge + "\n", 4, "Binary", ErrOversizedField},
		{"oversized continuation line", DebianSources, stanza + "Package-List:\n 0xffff deb\n " + huge + "\n", 4, "Package-List", ErrOversizedField},
		{"oversized folded field", DebianSources, stanza + "Checksums-Sha256:\n" + strings.Repeat(" "+strings.Repeat("0", 64)+" 1 f.dsc\n", MaxFieldSize/70+10), 4, "Checksums-Sha256", ErrOversizedField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := parseAll(t, []byte(tc.input), tc.format)
			requireParseError(t, err, "input", tc.line, tc.field, tc.target)
		})
	}
}

func TestDeb822FieldAtLimit(t *testing.T) {
	t.Parallel()
	// A field of exactly MaxFieldSize bytes (name, value and newlines) is
	// allowed, one byte more is not: on one line or folded.
	const head = "Package: a\nVersion: 1\n"
	line := "Binary: " + strings.Repeat("x", MaxFieldSize-len("Binary: ")-1) + "\n"
	folded := "Files:\n" + strings.Repeat(" "+strings.Repeat("f", 98)+"\n", (MaxFieldSize-len("Files:\n"))/100)
	folded += " " + strings.Repeat("f", MaxFieldSize-len(folded)-2) + "\n"
	for _, field := range []string{line, folded} {
		require.Len(t, field, MaxFieldSize)
		pkgs, _, err := parseAll(t, []byte(head+field), DebianSources)
		require.NoError(t, err)
		require.Len(t, pkgs, 1)

		over := field[:len(field)-1] + "x\n"
		_, _, err = parseAll(t, []byte(head+over), DebianSources)
		requireParseError(t, err, "input", 3, field[:strings.IndexByte(field, ':')], ErrOversizedField)
	}
}

func TestParseCallbackError(t *testing.T) {
	t.Parallel()
	stop := errors.New("stop")
	calls := 0
	stats, err := Parse(bytes.NewReader(readFixture(t, "bookworm-main-Sources.xz")), "x", DebianSources, func(events.Package) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	require.Same(t, stop, err, "the callback's error is returned as is")
	require.Equal(t, 3, calls)
	require.Equal(t, 3, stats.Packages)
}

func TestParseMaintainers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []events.Maintainer
	}{
		{"", nil},
		{" , ,", nil},
		{"Debian Games Team <pkg-games-devel@lists.alioth.debian.org>", []events.Maintainer{{Email: "pkg-games-devel@lists.alioth.debian.org", Name: "Debian Games Team"}}},
		// Real Uploaders values: quoted commas, trailing comma, quotes
		// inside a name, non-ASCII, a missing comma (trixie, "eugenio").
		{`"Adam C. Powell, IV" <hazelsct@debian.org>, Andreas Tille <tille@debian.org>,`, []events.Maintainer{{Email: "hazelsct@debian.org", Name: "Adam C. Powell, IV"}, {Email: "tille@debian.org", Name: "Andreas Tille"}}},
		{`Bruno "Fuddl" Kleinert <fuddl@debian.org>`, []events.Maintainer{{Email: "fuddl@debian.org", Name: `Bruno "Fuddl" Kleinert`}}},
		{`Andrew Lee (李健秋) <ajqlee@debian.org>`, []events.Maintainer{{Email: "ajqlee@debian.org", Name: "Andrew Lee (李健秋)"}}},
		{`Eugenio Cano-Manuel Mendoza <eugeniocanom@gmail.com> Thomas Goirand <zigo@debian.org>`, []events.Maintainer{{Email: "eugeniocanom@gmail.com", Name: "Eugenio Cano-Manuel Mendoza"}, {Email: "zigo@debian.org", Name: "Thomas Goirand"}}},
		{`"Natural Language Processing (Japanese)" <team+pkg-nlp-ja@tracker.debian.org>`, []events.Maintainer{{Email: "team+pkg-nlp-ja@tracker.debian.org", Name: "Natural Language Processing (Japanese)"}}},
		{`"Foo <bar>, baz" <X@Y.org>`, []events.Maintainer{{Email: "x@y.org", Name: "Foo <bar>, baz"}}},
		{`"Esc \"aped\"" <e@x.org>`, []events.Maintainer{{Email: "e@x.org", Name: `Esc "aped"`}}},
		{`<anon@x.org>`, []events.Maintainer{{Email: "anon@x.org"}}},
		{`bare@x.org, other@x.org (Other Person)`, []events.Maintainer{{Email: "bare@x.org"}, {Email: "other@x.org", Name: "Other Person"}}},
		{`Ünïcødé <ÄB@x.org>`, []events.Maintainer{{Email: "äb@x.org", Name: "Ünïcødé"}}},
	} {
		in := interner{}
		var scratch []byte
		got, err := parseMaintainers([]byte(tc.in), nil, &in, &scratch)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"Just A Name", "A <>", "A <no-at-sign>", "A <a@x.org", `"Unterminated <a@x.org>`, "A <a@x.org> (comment)"} {
		in := interner{}
		var scratch []byte
		_, err := parseMaintainers([]byte(bad), nil, &in, &scratch)
		require.ErrorIs(t, err, ErrMalformed, bad)
	}
}
