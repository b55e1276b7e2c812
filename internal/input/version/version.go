package version

import (
	"cmp"
	"strings"
)

// rank is the class of a version component. Ranks are compared before
// values, in this order. The numeric values are internal; the bytes Key
// writes for them are the key* constants below.
type rank uint8

const (
	rankPreRelease   rank = iota + 1 // alpha, beta, rc, pre…, dev… and unknown words
	rankZero                         // a numeric 0, and the padding of a short version
	rankPostRelease                  // patch…, post…, pl, errata, p
	rankNonZero                      // a numeric component other than 0
	rankLetterSuffix                 // a word right after a number, not followed by one: 1.0a
)

// component is one parsed version component.
type component struct {
	rank rank
	// letter is the lower-cased first letter of a word component (ranks
	// pre-release, post-release, letter suffix), or devLetter for dev….
	// Words compare by it alone.
	letter byte
	// digits is the value of a non-zero numeric component, without leading
	// zeros, so that longer means larger and equal lengths compare bytewise.
	digits string
}

// padding is what a version that ran out of components is compared as.
var padding = component{rank: rankZero}

func compareComponents(a, b component) int {
	if c := cmp.Compare(a.rank, b.rank); c != 0 {
		return c
	}
	if c := cmp.Compare(a.letter, b.letter); c != 0 {
		return c
	}
	if c := cmp.Compare(len(a.digits), len(b.digits)); c != 0 {
		return c
	}
	return strings.Compare(a.digits, b.digits)
}

// scanner splits a version string into components without allocating.
type scanner struct {
	s string
	i int
	// pending holds a letter suffix read together with the number before it.
	pending    component
	hasPending bool
}

// next returns the next component and true, or padding and false once the
// string is exhausted (and on every call after that).
func (sc *scanner) next() (component, bool) {
	if sc.hasPending {
		sc.hasPending = false
		return sc.pending, true
	}
	s, i := sc.s, sc.i
	for i < len(s) && !isAlpha(s[i]) && !isDigit(s[i]) {
		i++
	}
	if i == len(s) {
		sc.i = i
		return padding, false
	}
	if isAlpha(s[i]) {
		j := skipAlpha(s, i)
		sc.i = j
		return word(s[i:j], rankPreRelease), true
	}

	j := i
	for j < len(s) && s[j] == '0' {
		j++
	}
	k := j
	for k < len(s) && isDigit(s[k]) {
		k++
	}
	c := padding
	if k > j {
		c = component{rank: rankNonZero, digits: s[j:k]}
	}

	// A word glued to a number and not followed by another number is a
	// letter suffix (1.0a, 1.0a.1), unless it is a known keyword (1.0beta).
	// A word followed by a number (1.0a1) is parsed as an ordinary word by
	// the next call.
	if k < len(s) && isAlpha(s[k]) {
		m := skipAlpha(s, k)
		if m == len(s) || !isDigit(s[m]) {
			sc.pending = word(s[k:m], rankLetterSuffix)
			sc.hasPending = true
			k = m
		}
	}
	sc.i = k
	return c, true
}

// devLetter is the letter of a dev… word: below a, so that, as in PEP 440
// and PHP, 1.0dev1 < 1.0alpha1 < 1.0beta1 < 1.0rc1 < 1.0.
const devLetter = 'a' - 1

// word returns the component for the word w, a run of letters; unknown is
// the rank of a word that is not a keyword.
func word(w string, unknown rank) component {
	r := classify(w, unknown)
	if r == rankPreRelease && hasPrefixFold(w, "dev") {
		return component{rank: r, letter: devLetter}
	}
	return component{rank: r, letter: lower(w[0])}
}

// classify returns the rank of a word: pre-release for the pre-release
// keywords (alpha, beta, rc, pre…, dev…), post-release for the
// post-release keywords (post…, patch…, pl, errata, p) and unknown for any
// other word.
func classify(w string, unknown rank) rank {
	switch {
	case equalFold(w, "alpha"), equalFold(w, "beta"), equalFold(w, "rc"),
		hasPrefixFold(w, "pre"), hasPrefixFold(w, "dev"):
		return rankPreRelease
	case hasPrefixFold(w, "post"), hasPrefixFold(w, "patch"),
		equalFold(w, "pl"), equalFold(w, "errata"), equalFold(w, "p"):
		return rankPostRelease
	}
	return unknown
}

// canonical yields the components of a version with every run of zeros
// that is directly followed by a pre-release word dropped, so that
// 1.0alpha1, 1.0.0alpha1 and 1alpha1 are the same version, just as 1.0 and
// 1.0.0 are. (libversion keeps those zeros, which makes 1.0.0alpha2 sort
// after 1.0beta1 and npm's 1.0.0-rc.1 after PyPI's 1.0rc1.) Zeros before
// anything else stay: 1.0.post1 < 1.0.1 needs them.
type canonical struct {
	sc scanner
	// zeros is how many zeros are still to be returned before the
	// component sc returns next.
	zeros int
}

func (c *canonical) next() (component, bool) {
	if c.zeros > 0 {
		c.zeros--
		return padding, true
	}
	comp, ok := c.sc.next()
	if !ok || comp.rank != rankZero {
		return comp, ok
	}
	for n := 1; ; n++ {
		before := c.sc
		comp, ok := c.sc.next()
		switch {
		case ok && comp.rank == rankZero:
			continue
		case ok && comp.rank == rankPreRelease:
			return comp, true
		}
		c.sc = before
		c.zeros = n - 1
		return padding, true
	}
}

// Compare compares two versions in the generic order and returns -1 if a
// sorts before b, 0 if they are equal and +1 if a sorts after b. The
// versions should already be normalized for their scheme (see Normalize).
// Compare never fails: every string, including the empty one, is a version.
func Compare(a, b string) int {
	ca, cb := canonical{sc: scanner{s: a}}, canonical{sc: scanner{s: b}}
	for {
		x, okA := ca.next()
		y, okB := cb.next()
		if !okA && !okB {
			return 0
		}
		if c := compareComponents(x, y); c != 0 {
			return c
		}
	}
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

func skipAlpha(s string, i int) int {
	for i < len(s) && isAlpha(s[i]) {
		i++
	}
	return i
}

// equalFold reports whether s equals the lower-case ASCII word w, ignoring
// ASCII case.
func equalFold(s, w string) bool {
	return len(s) == len(w) && hasPrefixFold(s, w)
}

// hasPrefixFold reports whether s starts with the lower-case ASCII word w,
// ignoring ASCII case.
func hasPrefixFold(s, w string) bool {
	if len(s) < len(w) {
		return false
	}
	for i := range len(w) {
		if lower(s[i]) != w[i] {
			return false
		}
	}
	return true
}
