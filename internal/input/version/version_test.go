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

func TestCompare(t *testing.T) {
	t.Parallel()
	huge := "1" + strings.Repeat("0", 400)
	for _, tc := range []struct {
		a, b string
		want int
	}{
		// Numbers, padding and separators.
		{"1.0", "1.0.0", 0},
		{"1", "1.0.0.0", 0},
		{"0.99", "1.0", -1},
		{"1.10", "1.9", 1},
		{"1.2", "1.10", -1},
		{"01", "1", 0},
		{"1.001", "1.1", 0},
		{"1_2~3", "1.2.3", 0},
		{"1.0", "1..0...", 0},
		{"", "", 0},
		{"", "0", 0},
		{"", "0.0.0", 0},
		{"", "...", 0},
		{"", "1", -1},
		{"", "0.1", -1},
		{"", "alpha", 1},      // a lone pre-release word sorts before 0
		{"1.0—2", "1.0.2", 0}, // non-ASCII bytes are separators
		{"1.0é", "1.0", 0},

		// Numbers of any length: digit strings, never integers.
		{"18446744073709551616", "18446744073709551615", 1}, // 2^64 against 2^64-1
		{"1.99999999999999999999999999999", "1.100000000000000000000000000000", -1},
		{"000000000000000000000000000000042", "42", 0},
		{huge, huge + ".0", 0},
		{huge, huge[:len(huge)-1] + "9", -1},
		{huge, "9" + huge[2:], 1}, // one digit longer
		{"2." + huge, "2." + huge + "1", -1},
		{strings.Repeat("9", 254), strings.Repeat("9", 255), -1},
		{strings.Repeat("9", 255), "1" + strings.Repeat("0", 255), -1},

		// Pre-releases sort before the release; words by their first letter.
		{"1.0alpha1", "1.0", -1},
		{"1.0rc1", "1.0", -1},
		{"1.0beta1", "1.0", -1},
		{"1.0pre1", "1.0", -1},
		{"1.0preview", "1.0", -1},
		{"1.0alpha1", "1.0.alpha1", 0},
		{"1.0alpha1", "1.0a1", 0},
		{"1.0alpha1", "1.0.a1", 0},
		{"1.0alpha1", "1.0alpha2", -1},
		{"1.0alpha2", "1.0beta1", -1},
		{"1.0beta1", "1.0rc1", -1},
		{"1.0rc1", "1.0", -1},
		{"1.0alpha-1", "1.0", -1},
		{"1.0ALPHA1", "1.0alpha1", 0},
		{"1.0RC1", "1.0rc1", 0},
		{"0.9", "1.0alpha1", -1},
		{"1.0rc1", "1.0.0.1", -1},
		// dev… comes first of all (PEP 440, PHP).
		{"1.0dev1", "1.0alpha1", -1},
		{"1.0.dev1", "1.0a1", -1},
		{"1.0dev", "1.0", -1},
		{"1.0development", "1.0dev", 0},
		// Unknown words are pre-releases too (libversion's choice).
		{"1.0git20190911", "1.0", -1},
		{"1.0custom1", "1.0", -1},
		{"1.0.snapshot", "1.0", -1},
		// Zeros right before a pre-release word do not count.
		{"1.0.0alpha1", "1.0alpha1", 0},
		{"1.0.0alpha1", "1alpha1", 0},
		{"1.0.0alpha2", "1.0beta1", -1},
		{"1.0.0-rc.1", "1.0rc1", 0},
		{"1.0.0.rc1", "1.0.1", -1},
		{"0.0alpha", "alpha", 0},

		// Post-releases sort after the release, before the next one.
		{"1.0", "1.0patch1", -1},
		{"1.0patch1", "1.1", -1},
		{"1.0patch1", "1.0.1", -1},
		{"1.0", "1.0post1", -1},
		{"1.0", "1.0.post1", -1},
		{"1.0", "1.0pl1", -1},
		{"1.0", "1.0errata1", -1},
		{"1.0", "1.0p1", -1},
		{"1.0p1", "1.0.1", -1},
		{"1.0patch1", "1.0p1", 0},
		{"1.0post1", "1.0patchlevel1", 0},
		{"1.0.post1", "1.0.0.post1", 1}, // zeros before a post-release count (libversion)
		{"1.0patch1", "1.0patch2", -1},
		{"1.0alpha1", "1.0patch1", -1},

		// Letter suffixes: a word glued to a number, no number after it.
		{"1.0", "1.0a", -1},
		{"1.0a", "1.0b", -1},
		{"1.2", "1.2a", -1},
		{"1.2b", "1.3", -1},
		{"1.0.1", "1.0a", -1}, // libversion: a letter suffix follows any number
		{"1.0a", "1.0a.1", -1},
		{"1.0", "1.0a-1", -1},
		{"1.0A", "1.0a", 0},
		{"1.0a1", "1.0", -1}, // a word followed by a number is a pre-release
		{"1.0p", "1.0.1", -1},
		{"1.0pre", "1.0", -1},
		{"1.0dev", "1.0", -1},
		{"0.9.8za", "0.9.8zb", 0}, // first letter only: libversion's known blind spot
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

		// Debian: epoch, revision, repacks, +really, ~ and +.
		{version.SchemeDebian, "1:2.3-4", "2.3"},
		{version.SchemeDebian, "2.3", "2.3"},
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
		{version.SchemeDebian, "ds-1", "ds"},
		{version.SchemeDebian, "2.1.0+really2.0.10-1", "2.0.10"},
		{version.SchemeDebian, "7.0.0-really-5.3.5-6", "5.3.5"},
		{version.SchemeDebian, "0.7.0++dfsg2+really.0.6.1-1", "0.6.1"},
		{version.SchemeDebian, "22.01+really26.01+dfsg-0+deb12u1", "26.01"},
		{version.SchemeDebian, "1:1.0~rc1-1", "1.0~rc1"},
		{version.SchemeDebian, "1.0~20240101-1", "1.0~dev20240101"},
		{version.SchemeDebian, "1.0~-1", "1.0~dev"},
		{version.SchemeDebian, "1.0~p1-1", "1.0~pre.p1"},
		{version.SchemeDebian, "1.0+git20240101.abc-1", "1.0+post.git20240101.abc"},
		{version.SchemeDebian, "1.0+patch1", "1.0+patch1"},
		{version.SchemeDebian, "1.3-8.16-2", "1.3-post.8.16"},
		{version.SchemeDebian, "2023.3+deb12u1", "2023.3+post.deb12u1"},

		// PyPI: PEP 440 canonical form, without epoch and local part.
		{version.SchemePyPI, "1.0", "1.0"},
		{version.SchemePyPI, "1!2.0RC1+local.7", "2.0rc1"},
		{version.SchemePyPI, "v1.02", "1.2"},
		{version.SchemePyPI, "1.0-1", "1.0.post1"},
		{version.SchemePyPI, "1.0r1", "1.0.post1"},
		{version.SchemePyPI, "1.0-rev2", "1.0.post2"},
		{version.SchemePyPI, "1.0.post", "1.0.post0"},
		{version.SchemePyPI, "1.0a", "1.0a0"},
		{version.SchemePyPI, "1.0-alpha-2", "1.0a2"},
		{version.SchemePyPI, "1.0.Beta.3", "1.0b3"},
		{version.SchemePyPI, "1.0c1", "1.0rc1"},
		{version.SchemePyPI, "1.0pre1", "1.0rc1"},
		{version.SchemePyPI, "1.0preview_1", "1.0rc1"},
		{version.SchemePyPI, "1.0dev", "1.0.dev0"},
		{version.SchemePyPI, "1.0-alpha-2.post3.dev4", "1.0a2.post3.dev4"},
		{version.SchemePyPI, "2!1.0a1.post2.dev3+ubuntu-1", "1.0a1.post2.dev3"},
		{version.SchemePyPI, "1.0dev-r12", "1.0dev-r12"}, // not PEP 440: only lower-cased
		{version.SchemePyPI, "Unknown", "unknown"},

		// npm: semver without build metadata; every pre-release starts
		// with a pre-release word.
		{version.SchemeNPM, "1.0.0", "1.0.0"},
		{version.SchemeNPM, "v1.0.0", "1.0.0"},
		{version.SchemeNPM, "=1.0.0", "1.0.0"},
		{version.SchemeNPM, "1.0.0+build.5", "1.0.0"},
		{version.SchemeNPM, "1.0.0-beta.1+exp.sha.5114f85", "1.0.0-beta.1"},
		{version.SchemeNPM, "1.0.0-rc.1", "1.0.0-rc.1"},
		{version.SchemeNPM, "1.0.0-next.5", "1.0.0-next.5"},
		{version.SchemeNPM, "1.0.0-0.3.7", "1.0.0-dev.0.3.7"},
		{version.SchemeNPM, "1.0.0-20240101", "1.0.0-dev.20240101"},
		{version.SchemeNPM, "1.0.0-patch.1", "1.0.0-pre.patch.1"},
		{version.SchemeNPM, "1.0.0-", "1.0.0-dev."},
	} {
		require.Equal(t, tc.want, version.Normalize(tc.scheme, tc.in), "Normalize(%s, %q)", tc.scheme, tc.in)
	}
}

// TestNormalizedOrder checks orders that only hold after normalization: the
// rules each scheme gives its separators and spellings.
func TestNormalizedOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		scheme version.Scheme
		a, b   string
		want   int
	}{
		{version.SchemeDebian, "1.0~rc1-1", "1.0-1", -1},
		{version.SchemeDebian, "1.0~20240101-1", "1.0~alpha1-1", -1},
		{version.SchemeDebian, "1.0~20240101-1", "0.9-1", 1},
		{version.SchemeDebian, "1.0-1", "1.0+git20240101-1", -1},
		{version.SchemeDebian, "1.0+git20240101-1", "1.0.1-1", -1},
		{version.SchemeDebian, "1.0+git20240101-1", "1.0+git20240202-1", -1},
		{version.SchemeDebian, "1:1.0-1", "2.0-1", -1}, // the epoch is dropped
		{version.SchemeDebian, "1.0-1", "1.0-2+deb12u1", 0},
		{version.SchemeDebian, "1.0+dfsg-1", "1.0-3", 0},
		{version.SchemeDebian, "3.0-2-5", "3.0.2-1", -1},
		{version.SchemeDebian, "2.1.0-4", "2.1.0+really2.0.10-1", 1},
		{version.SchemePyPI, "1.0.dev1", "1.0a1", -1},
		{version.SchemePyPI, "1.0a1", "1.0a1.post1", -1},
		{version.SchemePyPI, "1.0a1.post1", "1.0b1", -1},
		{version.SchemePyPI, "1.0b1", "1.0rc1", -1},
		{version.SchemePyPI, "1.0c2", "1.0rc1", 1},
		{version.SchemePyPI, "1.0rc1", "1.0", -1},
		{version.SchemePyPI, "1.0", "1.0.post1.dev1", -1},
		{version.SchemePyPI, "1.0.post1.dev1", "1.0.post1", -1},
		{version.SchemePyPI, "1.0-1", "1.0.1", -1},
		{version.SchemePyPI, "1.0.1", "1.0.1+local", 0},
		{version.SchemePyPI, "2.0.0a46", "2.0beta7", -1},
		{version.SchemePyPI, "1!1.0", "2.0", -1}, // the epoch is dropped
		{version.SchemeNPM, "1.0.0-alpha", "1.0.0-alpha.1", -1},
		{version.SchemeNPM, "1.0.0-alpha.1", "1.0.0-beta", -1},
		{version.SchemeNPM, "1.0.0-beta.2", "1.0.0-beta.11", -1},
		{version.SchemeNPM, "1.0.0-rc.1", "1.0.0", -1},
		{version.SchemeNPM, "1.0.0-0", "1.0.0-alpha", -1},
		{version.SchemeNPM, "1.0.0-1", "1.0.0-2", -1},
		{version.SchemeNPM, "1.0.0-patch.1", "1.0.0", -1},
		{version.SchemeNPM, "1.0.0+build.1", "1.0.0+build.2", 0},
	} {
		a, b := version.Normalize(tc.scheme, tc.a), version.Normalize(tc.scheme, tc.b)
		requireOrder(t, a, b, tc.want, "%s: %q and %q", tc.scheme, tc.a, tc.b)
	}
}

// TestAcrossSchemes checks that one release spelled by each scheme is one
// version once normalized.
func TestAcrossSchemes(t *testing.T) {
	t.Parallel()
	for _, spellings := range [][]struct {
		scheme version.Scheme
		v      string
	}{
		{
			{version.SchemeGeneric, "1.2.0rc1"},
			{version.SchemeDebian, "1:1.2.0~rc1+dfsg-3"},
			{version.SchemePyPI, "1.2rc1"},
			{version.SchemePyPI, "1.2.0-RC-1"},
			{version.SchemeNPM, "1.2.0-rc.1"},
		},
		{
			{version.SchemeGeneric, "2.0"},
			{version.SchemeDebian, "2.0.0+ds-1+deb12u1"},
			{version.SchemePyPI, "1!2.0+local"},
			{version.SchemeNPM, "v2.0.0+build.1"},
		},
		{
			{version.SchemeGeneric, "3.1beta2"},
			{version.SchemeDebian, "3.1~beta2-1"},
			{version.SchemePyPI, "3.1b2"},
			{version.SchemeNPM, "3.1.0-beta.2"},
		},
	} {
		first := version.Normalize(spellings[0].scheme, spellings[0].v)
		for _, s := range spellings[1:] {
			n := version.Normalize(s.scheme, s.v)
			requireOrder(t, first, n, 0, "%s %q as %q", s.scheme, s.v, n)
		}
	}
}

// TestKeyEncoding pins the bytes of a few keys: they are stored in the
// database, so a change here means recomputing every stored key.
func TestKeyEncoding(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    string
		want string // hex
	}{
		{"", "20"},
		{"0.0", "20"},
		{"1", "500131" + "20"},
		{"1.0", "500131" + "20"},
		{"01.00", "500131" + "20"},
		{"1.0.1", "500131" + "30" + "500131" + "20"},
		{"1.0alpha1", "500131" + "1061" + "500131" + "20"},
		{"1.0.0a1", "500131" + "1061" + "500131" + "20"},
		{"1.0dev", "500131" + "1060" + "20"},
		{"1.0patch1", "500131" + "30" + "4070" + "500131" + "20"},
		{"1.0a", "500131" + "30" + "6061" + "20"},
		{"1.0A", "500131" + "30" + "6061" + "20"},
		{"10.20", "50023130" + "50023230" + "20"},
		{strings.Repeat("7", 256), "50ff01" + hex.EncodeToString([]byte(strings.Repeat("7", 256))) + "20"},
	} {
		require.Equal(t, tc.want, hex.EncodeToString(version.Key(tc.v)), "Key(%q)", tc.v)
	}
}
