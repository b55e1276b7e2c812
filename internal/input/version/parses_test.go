package version_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
)

// dpkgValidates asks dpkg --validate-version whether v is a Debian
// version (exit 0; 1 and 2 are its warnings and errors).
func dpkgValidates(tb testing.TB, v string) bool {
	tb.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("dpkg", "--validate-version", "--", v)
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		return true
	}
	exit, ok := err.(*exec.ExitError)
	require.True(tb, ok && !strings.Contains(stderr.String(), "takes one"), "dpkg --validate-version %q: %v: %s", v, err, stderr.String())
	return exit.ExitCode() == 0
}

// oddVersions are hand-made shapes at the edges of each scheme's syntax.
var oddVersions = []string{
	"", " ", "1.0", " 1.0 ", "\t1.0", "1 .0", "a1", "1_0", "1.0-", "-1", "1-a-b", "1:", ":1", "1:2:3", "+1:2", "-0:1",
	"-1:2", "\n1:2", "\v 1:2", "2147483647:1", "2147483648:1", "00000000000000000002:1", "99999999999999999999:1",
	"1.0+dfsg-1~bpo12+1", "1.0~rc1", "1.0-1:2", "1.0-1_2", "1.0é", "1!2.0.post1.dev2+local", "v1.0", "1.0.POST1",
	"1.0.po\u017ft1", "1.0+\u212a", "1.0rc", "1.0-1", "1.0-r", "1.0+", "1.0+a..b", "\u00a01.0\u2003", "\u00851.0",
	"1.2.3", "=v1.2.3", "v=1.2.3", "1.2.3-", "1.2.3-alpha.1+build.5", "1.2.3-al_pha", "1.2", "01.02.03", "1.2.3+",
}

// fuzzVersions draws n strings from an alphabet of the characters each
// syntax gives a meaning to, plus blanks, other white space, and a few
// non-ASCII runes that fold or trim.
func fuzzVersions(n int) []string {
	rng := rand.New(rand.NewPCG(440, 12))
	alphabet := []string{"0", "1", "2", "9", ".", "-", "+", "~", ":", "!", "_", "a", "b", "c", "r", "v", "=", " ", "\t",
		"\n", "alpha", "rc", "post", "dev", "dfsg", "A", "Z", "\u017f", "\u212a", "\u00a0", "é", "@", "/"}
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for range rng.IntN(9) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		out[i] = b.String()
	}
	return out
}

// TestParsesMatchesDpkg checks Parses for Debian against dpkg
// --validate-version: on the odd shapes, on fuzzed strings, and on a
// sample of the real Debian versions (every one of which must parse).
func TestParsesMatchesDpkg(t *testing.T) {
	t.Parallel()
	needDpkg(t)
	vs := slices.Concat(oddVersions, fuzzVersions(400))
	var real []string
	for _, versions := range sharedDebianVersions(t) {
		real = append(real, versions...)
	}
	slices.Sort(real)
	real = slices.Compact(real)
	for _, v := range real {
		require.True(t, version.Parses(version.SchemeDebian, v), "real Debian version %q", v)
	}
	for i := 0; i < len(real); i += max(1, len(real)/300) {
		vs = append(vs, real[i])
	}
	for _, v := range vs {
		require.Equal(t, dpkgValidates(t, v), version.Parses(version.SchemeDebian, v), "%q", v)
	}
}

// FuzzParsesDpkg is TestParsesMatchesDpkg's comparison on fuzzed input:
//
//	go test ./internal/input/version -run '^$' -fuzz '^FuzzParsesDpkg$' -fuzztime 30s
func FuzzParsesDpkg(f *testing.F) {
	needDpkg(f)
	for _, v := range oddVersions {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if strings.ContainsRune(v, 0) || len(v) > 200 {
			return // not an argument dpkg can be given
		}
		require.Equal(t, dpkgValidates(t, v), version.Parses(version.SchemeDebian, v), "%q", v)
	})
}

// TestVersionParsesInPostgres checks that the database's version_parses
// (migration 015, the definition of the version_unparsed problem) agrees
// with Parses for every scheme, on the real versions of testdata/version,
// the real Debian versions, the odd shapes and fuzzed strings.
func TestVersionParsesInPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	vs := slices.Concat(oddVersions, fuzzVersions(5000))
	for _, p := range readPairs(t) {
		vs = append(vs, p.a, p.b)
	}
	for _, versions := range sharedDebianVersions(t) {
		vs = append(vs, versions...)
	}
	slices.Sort(vs)
	vs = slices.Compact(vs)
	vs = slices.DeleteFunc(vs, func(v string) bool { return !utf8.ValidString(v) || strings.ContainsRune(v, 0) })
	counts := map[version.Scheme][2]int{}
	for _, s := range append(schemes, version.SchemeNPM) {
		var got []bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg(version_parses($1, v) ORDER BY i)
			FROM unnest($2::text[]) WITH ORDINALITY AS x (v, i)`, string(s), vs).Scan(&got))
		require.Len(t, got, len(vs))
		c := counts[s]
		for i, v := range vs {
			want := version.Parses(s, v)
			require.Equal(t, want, got[i], "%s %q", s, v)
			if want {
				c[0]++
			} else {
				c[1]++
			}
		}
		counts[s] = c
	}
	for _, s := range []version.Scheme{version.SchemeDebian, version.SchemePyPI, version.SchemeSemver} {
		require.Positive(t, counts[s][0], "%s: some versions parse", s)
		require.Positive(t, counts[s][1], "%s: some do not", s)
	}
	require.Zero(t, counts[version.SchemeGeneric][1], "every version parses in the generic scheme")
	t.Log(fmt.Sprint(counts))
}
