package formats

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestValuesTheDatabaseCannotStore: NUL bytes and over-long names or URLs
// are the parser's errors, with file, line and field, quoting at most the
// start of the value.
func TestValuesTheDatabaseCannotStore(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", MaxNameSize+1)
	longURL := "https://" + strings.Repeat("u", MaxURLSize)
	for _, c := range []struct {
		name   string
		format Format
		input  string
		line   int
		field  string
		target error
	}{
		{"jsonl NUL name", JSONL, `{"name":"a","version":"1"}` + "\n" + `{"name":"b\u0000c","version":"1"}`, 2, "name", ErrNULByte},
		{"jsonl NUL maintainer", JSONL, `{"name":"a","version":"1","maintainers":[{"email":"a@b","name":"\u0000"}]}`, 1, "maintainers", ErrNULByte},
		{"jsonl NUL extra", JSONL, `{"name":"a","version":"1","extra":{"k":"v\u0000"}}`, 1, "extra", ErrNULByte},
		{"jsonl long version", JSONL, `{"name":"a","version":"` + long + `"}`, 1, "version", ErrOversizedField},
		{"jsonl long url", JSONL, `{"name":"a","version":"1","links":[{"kind":"homepage","url":"` + longURL + `"}]}`, 1, "links", ErrOversizedField},
		{"tsv NUL name", TSV, "name\tversion\nok\t1\nb\x00c\t1\n", 3, "name", ErrNULByte},
		{"tsv NUL summary", TSV, "name\tversion\tsummary\na\t1\tx\x00\n", 2, "summary", ErrNULByte},
		{"tsv NUL column", TSV, "name\tversion\tx\x00\na\t1\tx\n", 1, "", ErrNULByte},
		{"tsv long name", TSV, "name\tversion\n" + long + "\t1\n", 2, "name", ErrOversizedField},
		{"tsv long extra", TSV, "name\tversion\tx\na\t1\t" + strings.Repeat("y", MaxFieldSize-20) + "\nb\t1\t" + long + "\n", 2, "", nil},
		{"sources NUL maintainer", DebianSources, "Package: a\nVersion: 1\n\nPackage: b\nVersion: 1\nMaintainer: B <b@x\x00>\n", 6, "Maintainer", ErrNULByte},
		{"sources NUL continuation", DebianSources, "Package: a\nVersion: 1\nUploaders: A <a@x>,\n B\x00 <b@x>\n", 4, "Uploaders", ErrNULByte},
		{"sources long package", DebianSources, "Package: a\nVersion: 1\n\nPackage: " + long + "\nVersion: 1\n", 4, "Package", ErrOversizedField},
		{"sources long homepage", DebianSources, "Package: a\nVersion: 1\nHomepage: " + longURL + "\n", 3, "Homepage", ErrOversizedField},
		{"sources long vcs", DebianSources, "Package: a\nVersion: 1\nVcs-Git: " + longURL + "\n", 3, "vcs-git", ErrOversizedField},
		{"packages long source", DebianPackages, "Package: a\nSource: " + long + "\nVersion: 1\n", 2, "Source", ErrOversizedField},
	} {
		path := writeFile(t, t.TempDir(), "input", c.input)
		_, err := ReadSnapshot(t.Context(), c.format, []string{path}, WithVersionScheme("generic"))
		if c.target == nil {
			// Extra values may be as large as a line: no error.
			require.NoError(t, err, c.name)
			continue
		}
		pe := requireParseError(t, err, path, c.line, c.field, c.target)
		require.Less(t, len(pe.Error()), len(path)+250, "%s: the message quotes a short part: %s", c.name, pe.Error())
	}
}

func TestValidateRepo(t *testing.T) {
	t.Parallel()
	require.NoError(t, ValidateRepo("debian_12"))
	require.NoError(t, ValidateRepo(strings.Repeat("r", MaxNameSize)))
	require.ErrorIs(t, ValidateRepo(""), ErrMissingField)
	require.ErrorIs(t, ValidateRepo("a\x00b"), ErrNULByte)
	err := ValidateRepo(strings.Repeat("r", 10_000))
	require.ErrorIs(t, err, ErrOversizedField)
	require.Less(t, len(err.Error()), 200, err.Error())
	require.Contains(t, err.Error(), "10000 bytes, more than 512")
}
