package version

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/deltalog/deltalog/events"
)

// Scheme names the versioning rules of a repository format. It is the
// public events.VersionScheme, so that batches and update parameters carry
// it without exposing this package.
type Scheme = events.VersionScheme

// The schemes Normalize knows. Any other scheme is treated as SchemeGeneric.
const (
	SchemeGeneric Scheme = "generic"
	SchemeDebian  Scheme = "debian"
	SchemePyPI    Scheme = "pypi"
	SchemeNPM     Scheme = "npm"
)

// Normalize rewrites a version as spelled by a repository of the given
// scheme into the generic form that Compare and Key order, keeping only what
// identifies the upstream release:
//
//   - debian: the epoch (1:) and the Debian revision (the last -…) are
//     dropped; X+reallyY becomes Y; repack markers (+dfsg, +ds, +repack, in
//     any of their spellings, up to the next + or ~) and bundled component
//     versions (+~cs1.2) are dropped. A ~ sorts before the release in dpkg,
//     so it is made a pre-release (1.0~rc1 stays, 1.0~20240101 becomes
//     1.0~dev20240101); a + sorts after it, so it is made a post-release
//     (1.0+git20240101 becomes 1.0+post.git20240101), and so is a - left
//     in the upstream version before a number (1.3-8 becomes 1.3-post.8).
//   - pypi: versions valid under PEP 440 are written canonically without
//     epoch and local part (1!2.0RC1+local becomes 2.0rc1; 1.0-1 and 1.0r1
//     become 1.0.post1; 1.0a becomes 1.0a0); others are only trimmed and
//     lower-cased.
//   - npm: a leading v or = and the build metadata (+…) are dropped, and a
//     pre-release that does not start with a pre-release word gets one
//     (1.0.0-0.3 becomes 1.0.0-dev.0.3, since semver puts numeric
//     identifiers before words; 1.0.0-patch.1 becomes 1.0.0-pre.patch.1), so
//     that every pre-release sorts before its release.
//   - generic: the version is returned as is.
//
// The result is a comparison form, for Compare and Key, not for display;
// and a normalized Debian version is no Debian version, so it must not be
// normalized again (PyPI and npm forms are unchanged by it).
func Normalize(s Scheme, v string) string {
	switch s {
	case SchemeDebian:
		return normalizeDebian(v)
	case SchemePyPI:
		return normalizePyPI(v)
	case SchemeNPM:
		return normalizeNPM(v)
	}
	return v
}

func normalizeDebian(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, ':'); i > 0 && allDigits(v[:i]) {
		v = v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		v = v[:i]
	}
	v = debianReally(v)
	if i := strings.Index(v, "+~"); i >= 0 {
		v = v[:i]
	}
	v = debianStripRepack(v)
	return debianSeparators(v)
}

// debianReally turns X+reallyY into Y: the version that had to go back
// behind X and is really in the package.
func debianReally(v string) string {
	for from := len(v); ; {
		i := strings.LastIndex(v[:from], "really")
		if i < 0 {
			return v
		}
		from = i
		if i == 0 || isAlpha(v[i-1]) {
			continue
		}
		rest := strings.TrimLeft(v[i+len("really"):], "+~.-_")
		if rest != "" && isDigit(rest[0]) {
			return rest
		}
	}
}

// debianStripRepack drops the words that mark a repacked upstream tarball
// (dfsg, ds, dsx, repack, repacked), with whatever follows them up to the
// next + or ~, as in 1.2+dfsg1, 1.2~ds, 1.2.dfsg.1 or 1.2+repack20220817.a5b6.
func debianStripRepack(v string) string {
	var out []byte // what is kept of v[:last], once something is dropped
	last := 0
	for i := 1; i < len(v); {
		if !isAlpha(v[i]) || isAlpha(v[i-1]) {
			i++
			continue
		}
		j := skipAlpha(v, i)
		switch strings.ToLower(v[i:j]) {
		case "dfsg", "ds", "dsx", "repack", "repacked":
		default:
			i = j
			continue
		}
		start := i
		for start > last && strings.IndexByte("+~.-_", v[start-1]) >= 0 {
			start--
		}
		if start == 0 {
			// Nothing before the marker: leave the version alone.
			i = j
			continue
		}
		end := j
		for end < len(v) && v[end] != '+' && v[end] != '~' {
			end++
		}
		out = append(out, v[last:start]...)
		last, i = end, end
	}
	if out == nil {
		return v
	}
	return string(append(out, v[last:]...))
}

// debianSeparators makes the generic order agree with dpkg's where dpkg
// gives a separator a meaning: ~ sorts before the end of the version, so it
// is made a pre-release; + and - sort after it and before ., so they are
// made post-releases (a - only before a number: 1.0-beta is a pre-release
// spelled without ~, which the generic order keeps as one).
func debianSeparators(v string) string {
	if strings.IndexAny(v, "~+-") < 0 {
		return v
	}
	var b strings.Builder
	b.Grow(len(v) + 8)
	for i := 0; i < len(v); i++ {
		c := v[i]
		b.WriteByte(c)
		word := v[i+1 : skipAlpha(v, i+1)]
		switch {
		case c == '~' && word == "":
			// dpkg sorts a number, or nothing, after ~ before any word.
			b.WriteString("dev") // 1.0~20240101 → 1.0~dev20240101
		case c == '~' && classify(word, rankPreRelease) != rankPreRelease:
			b.WriteString("pre.") // 1.0~p1 → 1.0~pre.p1
		case c == '+' && classify(word, rankPreRelease) != rankPostRelease:
			b.WriteString("post.") // 1.0+git1 → 1.0+post.git1
		case c == '-' && i+1 < len(v) && isDigit(v[i+1]):
			b.WriteString("post.") // 1.3-8 → 1.3-post.8
		}
	}
	return b.String()
}

// pep440 is PEP 440's version pattern (Appendix B), case-insensitive, for
// a version trimmed of white space.
var pep440 = regexp.MustCompile(`(?i)^v?` +
	`(?:[0-9]+!)?` +
	`(?P<release>[0-9]+(?:\.[0-9]+)*)` +
	`(?:[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?` +
	`(?:-(?P<post_n1>[0-9]+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?)?` +
	`(?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?` +
	`(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?$`)

var (
	pep440Release = pep440.SubexpIndex("release")
	pep440PreL    = pep440.SubexpIndex("pre_l")
	pep440PreN    = pep440.SubexpIndex("pre_n")
	pep440PostN1  = pep440.SubexpIndex("post_n1")
	pep440PostL   = pep440.SubexpIndex("post_l")
	pep440PostN2  = pep440.SubexpIndex("post_n2")
	pep440DevL    = pep440.SubexpIndex("dev_l")
	pep440DevN    = pep440.SubexpIndex("dev_n")
)

func normalizePyPI(v string) string {
	v = strings.TrimSpace(v)
	m := pep440.FindStringSubmatchIndex(v)
	if m == nil {
		return asciiLower(v)
	}
	group := func(i int) (string, bool) {
		if m[2*i] < 0 {
			return "", false
		}
		return v[m[2*i]:m[2*i+1]], true
	}
	var b strings.Builder
	b.Grow(len(v) + 8)

	release, _ := group(pep440Release)
	for i, n := range strings.Split(release, ".") {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(pep440Number(n))
	}
	if l, ok := group(pep440PreL); ok {
		switch strings.ToLower(l) {
		case "alpha", "a":
			b.WriteString("a")
		case "beta", "b":
			b.WriteString("b")
		default: // c, rc, pre, preview
			b.WriteString("rc")
		}
		n, _ := group(pep440PreN)
		b.WriteString(pep440Number(n))
	}
	if n, ok := group(pep440PostN1); ok {
		b.WriteString(".post" + pep440Number(n))
	} else if _, ok := group(pep440PostL); ok {
		n, _ := group(pep440PostN2)
		b.WriteString(".post" + pep440Number(n))
	}
	if _, ok := group(pep440DevL); ok {
		n, _ := group(pep440DevN)
		b.WriteString(".dev" + pep440Number(n))
	}
	return b.String()
}

// pep440Number writes a PEP 440 number without leading zeros; a missing
// number is 0.
func pep440Number(n string) string {
	n = strings.TrimLeft(n, "0")
	if n == "" {
		return "0"
	}
	return n
}

func normalizeNPM(v string) string {
	v = strings.TrimLeftFunc(v, func(r rune) bool {
		return r == 'v' || r == 'V' || r == '=' || unicode.IsSpace(r)
	})
	if i := strings.IndexByte(v, '+'); i >= 0 {
		v = v[:i]
	}
	v = strings.TrimRightFunc(v, unicode.IsSpace)
	i := strings.IndexByte(v, '-')
	if i < 0 {
		return v
	}
	pre := v[i+1:]
	j := 0
	for j < len(pre) && !isAlpha(pre[j]) && !isDigit(pre[j]) {
		j++
	}
	switch {
	case j == len(pre) || isDigit(pre[j]):
		// semver puts numeric identifiers before words; dev… sorts first.
		pre = "dev." + pre
	case classify(pre[j:skipAlpha(pre, j)], rankPreRelease) != rankPreRelease:
		pre = "pre." + pre
	}
	return v[:i+1] + pre
}

// asciiLower lower-cases the ASCII letters of s and leaves other bytes alone.
func asciiLower(s string) string {
	for i := range len(s) {
		if s[i] >= 'A' && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lower(b[j])
			}
			return string(b)
		}
	}
	return s
}

func allDigits(s string) bool {
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
