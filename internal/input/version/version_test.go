package version_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/deltalog/deltalog/internal/input/version"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// requireOrder requires Compare(a, b) == want, the antisymmetric result for
// (b, a), and keys that order the same way.
func requireOrder(t *testing.T, a, b string, want int, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, want, version.Compare(a, b), append([]any{"Compare(%q, %q)", a, b}, msgAndArgs...)...)
	require.Equal(t, -want, version.Compare(b, a), append([]any{"Compare(%q, %q)", b, a}, msgAndArgs...)...)
	ka, kb := version.Key(a), version.Key(b)
	require.Equal(t, want, bytes.Compare(ka, kb), append([]any{"Key(%q) = %x against Key(%q) = %x", a, ka, b, kb}, msgAndArgs...)...)
}

// TestCompare covers what libversion's vectors leave out: numbers of any
// length, bytes outside ASCII, and the zeros and letter suffixes that the
// key encoding has to get right.
func TestCompare(t *testing.T) {
	t.Parallel()
	huge := "1" + strings.Repeat("0", 400)
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"18446744073709551616", "18446744073709551615", 1}, // 2^64 against 2^64-1
		{"1.99999999999999999999999999999", "1.100000000000000000000000000000", -1},
		{"000000000000000000000000000000042", "42", 0},
		{huge, huge + ".0", 0},
		{huge, huge[:len(huge)-1] + "9", -1},
		{huge, "9" + huge[2:], 1},
		{strings.Repeat("9", 254), strings.Repeat("9", 255), -1},
		{strings.Repeat("9", 255), "1" + strings.Repeat("0", 255), -1},
		{"1.0—2", "1.0.2", 0}, // non-ASCII bytes separate
		{"1.0é", "1.0", 0},
		// Zeros before a pre-release word count (libversion): 1.0.alpha
		// is below 1, 1.0.0.alpha above 1.0.beta.
		{"1.0.alpha", "1", -1},
		{"1.0.0alpha2", "1.0beta1", 1},
		{"1.0.0.alpha", "1.0.0.1", -1},
		{"1.0.alpha", "1.0.0.1", -1},
		{"1.0.post1", "1.0.0.0.5", 1},
		{"0.0.alpha", "0.alpha", 1},
		{"1.0.0-rc.1", "1.0rc1", 1},
		// A letter suffix is one letter, then a separator or the end.
		{"1.0ab", "1.0", -1}, // a word: pre-release
		{"1.0a", "1.0.1", 1},
		{"1.0a.1", "1.0a", 1},
		{"1.0p", "1.0", 1},
		{"0.9.8za", "0.9.8zb", 0}, // words compare by their first letter
	} {
		requireOrder(t, tc.a, tc.b, tc.want)
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		scheme version.Scheme
		in     string
		want   string
	}{
		{version.SchemeGeneric, "1:2.3-4", "1:2.3-4"},
		{"unknown", " 1.0 ", " 1.0 "},

		// Debian: epoch, revision, +really, +~ bundles, repacks, ~ before a number.
		{version.SchemeDebian, "1:2.3-4", "2.3"},
		{version.SchemeDebian, " 2.3-1 ", "2.3"},
		{version.SchemeDebian, "1.0-beta12.1-1.3", "1.0-beta12.1"},
		{version.SchemeDebian, "1.2.3+dfsg-1", "1.2.3"},
		{version.SchemeDebian, "1.2.3+dfsg1-1", "1.2.3"},
		{version.SchemeDebian, "1.2.3+dfsg.1-1", "1.2.3"},
		{version.SchemeDebian, "1.2.3~dfsg-1", "1.2.3"},
		{version.SchemeDebian, "1.06.dfsg-7", "1.06"},
		{version.SchemeDebian, "1.2.3+ds1-1", "1.2.3"},
		{version.SchemeDebian, "1.2.3+repack-1", "1.2.3"},
		{version.SchemeDebian, "0.9.12+repack20150328.0.git2c600ae-3", "0.9.12"},
		{version.SchemeDebian, "0.1.5+dfsg2~develop.7-1", "0.1.5~develop.7"},
		{version.SchemeDebian, "0.34.1+ds+~cs6.0.0-1", "0.34.1"},
		{version.SchemeDebian, "1.2.0+~1.2.2-1", "1.2.0"},
		{version.SchemeDebian, "2.4.1+dfsg+~2.4.0-2+deb12u1", "2.4.1"},
		{version.SchemeDebian, "ds-1", "ds"},
		{version.SchemeDebian, "2.1.0+really2.0.10-1", "2.0.10"},
		{version.SchemeDebian, "7.0.0-really-5.3.5-6", "5.3.5"},
		{version.SchemeDebian, "0.7.0++dfsg2+really.0.6.1-1", "0.6.1"},
		{version.SchemeDebian, "1.12+really1.11-1", "1.11"},
		{version.SchemeDebian, "1:1.0~rc1-1", "1.0~rc1"},
		{version.SchemeDebian, "1.0~20240101-1", "1.0~pre20240101"},
		{version.SchemeDebian, "0.0~git20260402-1", "0.0~git20260402"},
		{version.SchemeDebian, "1+git20170819-2", "1+git20170819"},
		{version.SchemeDebian, "2023.3+deb12u1", "2023.3+deb12u1"},

		// PyPI: PEP 440 canonical form, without epoch and local part.
		{version.SchemePyPI, "1.0", "1.0"},
		{version.SchemePyPI, "1!2.0RC1+local.7", "2.0rc1"},
		{version.SchemePyPI, "v1.02", "1.2"},
		{version.SchemePyPI, "1.0-1", "1.0.post1"},
		{version.SchemePyPI, "1.0r1", "1.0.post1"},
		{version.SchemePyPI, "1.0.post", "1.0.post0"},
		{version.SchemePyPI, "1.0a", "1.0a0"},
		{version.SchemePyPI, "1.0-alpha-2", "1.0a2"},
		{version.SchemePyPI, "1.0c1", "1.0rc1"},
		{version.SchemePyPI, "1.0preview_1", "1.0rc1"},
		{version.SchemePyPI, "1.0dev", "1.0.dev0"},
		{version.SchemePyPI, "2!1.0a1.post2.dev3+ubuntu-1", "1.0a1.post2.dev3"},
		{version.SchemePyPI, "1.0dev-r12", "1.0dev-r12"}, // not PEP 440: only lower-cased
		{version.SchemePyPI, "Unknown", "unknown"},

		// semver: no build metadata; every pre-release starts with a
		// pre-release word.
		{version.SchemeSemver, "v1.0.0", "1.0.0"},
		{version.SchemeSemver, "=1.0.0", "1.0.0"},
		{version.SchemeSemver, "1.0.0-beta.1+exp.sha.5114f85", "1.0.0-beta.1"},
		{version.SchemeSemver, "1.0.0-rc.1", "1.0.0-rc.1"},
		{version.SchemeSemver, "1.0.0-next.5", "1.0.0-next.5"},
		{version.SchemeSemver, "1.0.0-0.3.7", "1.0.0-pre.0.3.7"},
		{version.SchemeSemver, "1.0.0-patch.1", "1.0.0-pre.patch.1"},
		{version.SchemeNPM, "1.0.0-0.3.7", "1.0.0-pre.0.3.7"}, // the alias
	} {
		require.Equal(t, tc.want, version.Normalize(tc.scheme, tc.in), "Normalize(%s, %q)", tc.scheme, tc.in)
	}
}

// TestAcrossRepositories checks the generic order of normalized versions
// on the cases that made Debian's newest version wrong.
func TestAcrossRepositories(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string // Debian versions
		want int
	}{
		{"1+git20170819-1", "1.0.1-1", -1},
		{"0+git20210115-2", "0.0~git20260402-1", -1},
		{"1.11+nmu3", "1.12+really1.11-1", -1},
		{"1.0~20240101-1", "1.0-1", -1},
		{"1.0~20240101-1", "0.9-1", 1},
		{"1.0~rc1-1", "1.0-1", -1},
		{"2.4.1+dfsg+~2.4.0-2+deb12u1", "2.4.1-1", 0},
		{"1:2.0-1", "3.0-1", -1}, // the epoch is dropped
	} {
		a, b := version.Normalize(version.SchemeDebian, tc.a), version.Normalize(version.SchemeDebian, tc.b)
		requireOrder(t, a, b, tc.want, "debian %q and %q", tc.a, tc.b)
	}
	for _, spellings := range [][]struct {
		scheme version.Scheme
		v      string
	}{
		{
			{version.SchemeGeneric, "1.2rc1"},
			{version.SchemeDebian, "1:1.2~rc1+dfsg-3"},
			{version.SchemePyPI, "1.2rc1"},
			{version.SchemePyPI, "1.2-RC-1"},
		},
		{
			{version.SchemeGeneric, "2.0"},
			{version.SchemeDebian, "2.0.0+ds-1+deb12u1"},
			{version.SchemePyPI, "1!2.0+local"},
			{version.SchemeSemver, "v2.0.0+build.1"},
		},
	} {
		first := version.Normalize(spellings[0].scheme, spellings[0].v)
		for _, s := range spellings[1:] {
			n := version.Normalize(s.scheme, s.v)
			requireOrder(t, first, n, 0, "%s %q as %q", s.scheme, s.v, n)
		}
	}
}

// TestSchemeOrders checks each scheme's own order on the rules that set
// it apart.
func TestSchemeOrders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		scheme version.Scheme
		a, b   string
		want   int
	}{
		// dpkg: epoch, then upstream, then revision; ~ before everything,
		// even the end; letters before other bytes; digit runs numerically.
		{version.SchemeDebian, "1:0.9-1", "2.0-1", 1},
		{version.SchemeDebian, "1.0~rc1-1", "1.0-1", -1},
		{version.SchemeDebian, "1.0~~-1", "1.0~-1", -1},
		{version.SchemeDebian, "0.9.2-3.1~deb12u1", "0.9.2-3.1+deb12u1", -1},
		{version.SchemeDebian, "0.37-16", "0.37-16+deb12u1", -1},
		{version.SchemeDebian, "1.0a-1", "1.0+-1", -1},
		{version.SchemeDebian, "1.0-1", "1.0.1-1", -1},
		{version.SchemeDebian, "1.10-1", "1.9-1", 1},
		{version.SchemeDebian, "1.0", "1.0-0", 0},
		{version.SchemeDebian, "01.0-1", "1.0-1", 0},
		{version.SchemeDebian, "1.0-1", "1.0-1+b1", -1},
		// PEP 440: dev < pre < release < post; epoch first; local last.
		{version.SchemePyPI, "1.0.dev1", "1.0a1", -1},
		{version.SchemePyPI, "1.0a1", "1.0a1.post1", -1},
		{version.SchemePyPI, "1.0b1", "1.0rc1", -1},
		{version.SchemePyPI, "1.0rc1", "1.0", -1},
		{version.SchemePyPI, "1.0", "1.0.post1.dev1", -1},
		{version.SchemePyPI, "1.0.post1.dev1", "1.0.post1", -1},
		{version.SchemePyPI, "1.0", "1.0.0", 0},
		{version.SchemePyPI, "1.0", "1.0+local", -1},
		{version.SchemePyPI, "1.0+abc", "1.0+7", -1},
		{version.SchemePyPI, "1!1.0", "2.0", 1},
		{version.SchemePyPI, "not a version", "0.1", -1},
		// semver: a pre-release before its release; identifiers numbers
		// before words; build metadata ignored.
		{version.SchemeSemver, "1.0.0-alpha", "1.0.0-alpha.1", -1},
		{version.SchemeSemver, "1.0.0-alpha.1", "1.0.0-alpha.beta", -1},
		{version.SchemeSemver, "1.0.0-beta.2", "1.0.0-beta.11", -1},
		{version.SchemeSemver, "1.0.0-rc.1", "1.0.0", -1},
		{version.SchemeSemver, "1.0.0-alpha", "1.0.0-beta", -1},
		{version.SchemeSemver, "1.0.0-beta", "1.0.0-dev", -1},
		{version.SchemeSemver, "1.0.0+build.1", "1.0.0+build.2", 0},
		{version.SchemeSemver, "2.0.0", "10.0.0", -1},
		{version.SchemeSemver, "1.0", "0.0.1", -1}, // not semver
		{version.SchemeNPM, "1.0.0-1", "1.0.0", -1},
		// generic: libversion.
		{version.SchemeGeneric, "1.0alpha1", "1.0", -1},
		{version.SchemeGeneric, "1.0", "1.0patch1", -1},
	} {
		o := version.OrderOf(tc.scheme)
		require.Equal(t, tc.want, o.Compare(tc.a, tc.b), "%s: %q against %q", tc.scheme, tc.a, tc.b)
		require.Equal(t, -tc.want, o.Compare(tc.b, tc.a), "%s: %q against %q", tc.scheme, tc.b, tc.a)
	}
}

// TestKeyEncoding pins the bytes of a few keys: they are stored in the
// database, so a change here means bumping OrderVersion.
func TestKeyEncoding(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    string
		want string // hex
	}{
		{"", "30"},
		{"0.0", "30"},
		{"1", "600131" + "30"},
		{"1.0", "600131" + "30"},
		{"01.00", "600131" + "30"},
		{"1.0.1", "600131" + "40" + "600131" + "30"},
		{"1.0alpha1", "600131" + "20" + "1061" + "600131" + "30"},
		{"1.0.0a1", "600131" + "20" + "20" + "1061" + "600131" + "30"},
		{"1.0patch1", "600131" + "40" + "5070" + "600131" + "30"},
		{"1.0a", "600131" + "40" + "7061" + "30"},
		{"1.0A", "600131" + "40" + "7061" + "30"},
		{"10.20", "60023130" + "60023230" + "30"},
		{strings.Repeat("7", 256), "60ff01" + hex.EncodeToString([]byte(strings.Repeat("7", 256))) + "30"},
	} {
		require.Equal(t, tc.want, hex.EncodeToString(version.Key(tc.v)), "Key(%q)", tc.v)
	}
}
