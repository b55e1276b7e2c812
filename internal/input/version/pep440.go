package version

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
)

// pypiOrder is PEP 440's order. Versions PEP 440 rejects sort before every
// valid one, in the generic order among themselves.
type pypiOrder struct{}

// pep440 is PEP 440's version pattern (Appendix B), case-insensitive, for
// a version trimmed of white space.
var pep440 = regexp.MustCompile(`(?i)^v?` +
	`(?:(?P<epoch>[0-9]+)!)?` +
	`(?P<release>[0-9]+(?:\.[0-9]+)*)` +
	`(?:[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?` +
	`(?:-(?P<post_n1>[0-9]+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?)?` +
	`(?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?` +
	`(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?$`)

var (
	pep440Epoch   = pep440.SubexpIndex("epoch")
	pep440Release = pep440.SubexpIndex("release")
	pep440PreL    = pep440.SubexpIndex("pre_l")
	pep440PreN    = pep440.SubexpIndex("pre_n")
	pep440PostN1  = pep440.SubexpIndex("post_n1")
	pep440PostL   = pep440.SubexpIndex("post_l")
	pep440PostN2  = pep440.SubexpIndex("post_n2")
	pep440DevL    = pep440.SubexpIndex("dev_l")
	pep440DevN    = pep440.SubexpIndex("dev_n")
	pep440Local   = pep440.SubexpIndex("local")
)

// pep440Version is a parsed PEP 440 version. Numbers are digit strings
// (any length), compared by cmpNumbers.
type pep440Version struct {
	epoch   string
	release []string
	pre     int // -1 none, 0 a, 1 b, 2 rc
	preN    string
	post    bool
	postN   string
	dev     bool
	devN    string
	local   []string // lower-cased; nil when there is none
}

func parsePEP440(v string) (pep440Version, bool) {
	v = strings.TrimSpace(v)
	m := pep440.FindStringSubmatchIndex(v)
	if m == nil {
		return pep440Version{}, false
	}
	group := func(i int) (string, bool) {
		if m[2*i] < 0 {
			return "", false
		}
		return v[m[2*i]:m[2*i+1]], true
	}
	p := pep440Version{pre: -1}
	p.epoch, _ = group(pep440Epoch)
	release, _ := group(pep440Release)
	p.release = strings.Split(release, ".")
	if l, ok := group(pep440PreL); ok {
		switch strings.ToLower(l) {
		case "alpha", "a":
			p.pre = 0
		case "beta", "b":
			p.pre = 1
		default: // c, rc, pre, preview
			p.pre = 2
		}
		p.preN, _ = group(pep440PreN)
	}
	if n, ok := group(pep440PostN1); ok {
		p.post, p.postN = true, n
	} else if _, ok := group(pep440PostL); ok {
		p.post = true
		p.postN, _ = group(pep440PostN2)
	}
	if _, ok := group(pep440DevL); ok {
		p.dev = true
		p.devN, _ = group(pep440DevN)
	}
	if l, ok := group(pep440Local); ok {
		p.local = strings.FieldsFunc(strings.ToLower(l), func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	}
	return p, true
}

func (pypiOrder) Compare(a, b string) int { return compareParsed(a, b, parsePEP440, comparePEP440) }

// compareParsed orders two versions of a scheme with a syntax: both parsed,
// by compare; a version that does not parse sorts before every one that
// does, and in the generic order among those that do not, so that the
// order stays total.
func compareParsed[V any](a, b string, parse func(string) (V, bool), compare func(x, y V) int) int {
	x, okX := parse(a)
	y, okY := parse(b)
	switch {
	case okX && okY:
		return compare(x, y)
	case okX:
		return 1
	case okY:
		return -1
	}
	return Compare(a, b)
}

// comparePEP440 orders as PEP 440 does: epoch, release (padded with
// zeros), then the pre-release (none sorts after all of them, except that
// a dev release of the release itself, 1.0.dev1, sorts before 1.0a1), the
// post-release (none first), the dev release (none last), and the local
// version (none first; segments: numbers after words, numbers
// numerically, words alphabetically).
func comparePEP440(x, y pep440Version) int {
	if c := cmpNumbers(x.epoch, y.epoch); c != 0 {
		return c
	}
	for i := range max(len(x.release), len(y.release)) {
		if c := cmpNumbers(at(x.release, i), at(y.release, i)); c != 0 {
			return c
		}
	}
	// The pre-release as a pair: phase (-1 dev-only, 0..2 a/b/rc, 3 none).
	phase := func(p pep440Version) int {
		switch {
		case p.pre >= 0:
			return p.pre
		case !p.post && p.dev:
			return -1
		}
		return 3
	}
	if c := cmp.Compare(phase(x), phase(y)); c != 0 {
		return c
	}
	if x.pre >= 0 {
		if c := cmpNumbers(x.preN, y.preN); c != 0 {
			return c
		}
	}
	if c := compareOptional(x.post, y.post, x.postN, y.postN, false); c != 0 {
		return c
	}
	if c := compareOptional(x.dev, y.dev, x.devN, y.devN, true); c != 0 {
		return c
	}
	switch {
	case x.local == nil && y.local == nil:
		return 0
	case x.local == nil:
		return -1
	case y.local == nil:
		return 1
	}
	return compareIdentifiers(x.local, y.local, false)
}

// compareOptional compares two optional numbers; absentLast says whether
// a missing one sorts after every present one (else before).
func compareOptional(hasX, hasY bool, x, y string, absentLast bool) int {
	switch {
	case hasX && hasY:
		return cmpNumbers(x, y)
	case hasX == hasY:
		return 0
	case hasX == absentLast:
		return -1
	}
	return 1
}

// compareIdentifiers compares two lists of identifiers (PEP 440 local
// segments, semver pre-release identifiers) element by element, a longer
// list of equal prefix sorting after: numbers numerically, words in ASCII
// order, and numbers before words when numbersFirst (semver), else after
// them (PEP 440).
func compareIdentifiers(x, y []string, numbersFirst bool) int {
	return slices.CompareFunc(x, y, func(s, t string) int {
		ns, nt := allDigits(s), allDigits(t)
		switch {
		case ns && nt:
			return cmpNumbers(s, t)
		case ns != nt:
			if ns == numbersFirst {
				return -1
			}
			return 1
		}
		return strings.Compare(s, t)
	})
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// cmpNumber returns a digit string without its leading zeros; an empty
// one is "0".
func cmpNumber(n string) string {
	n = strings.TrimLeft(n, "0")
	if n == "" {
		return "0"
	}
	return n
}

// cmpNumbers compares two digit strings of any length numerically; an
// empty one is 0.
func cmpNumbers(a, b string) int {
	a, b = cmpNumber(a), cmpNumber(b)
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}
