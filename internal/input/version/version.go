package version

import (
	"cmp"
	"strings"
)

// Flags adjust how CompareFlags reads one of its versions, as libversion's
// VERSIONFLAG_* do.
type Flags uint8

const (
	// PIsPatch reads a lone p (9.6p1) as a post-release word, "patch",
	// instead of a pre-release one.
	PIsPatch Flags = 1 << iota
	// AnyIsPatch reads every word that is not a known keyword as a
	// post-release word instead of a pre-release one.
	AnyIsPatch
	// LowerBound pads the version with a component below every other, so
	// that it sorts before every version that starts with it (1.0 as a
	// lower bound is below 1.0alpha1).
	LowerBound
	// UpperBound pads the version with a component above every other, so
	// that it sorts after every version that starts with it (1.0 as an
	// upper bound is above 1.0.1 and 1.0a, below 1.1).
	UpperBound
)

// rank is the class of a version component (libversion's metaorder).
// Ranks are compared before values, in this order.
type rank uint8

const (
	rankLowerBound   rank = iota // padding of a LowerBound version
	rankPreRelease               // alpha, beta, rc, pre…, and any unknown word
	rankZero                     // a numeric 0, and the padding of a version
	rankPostRelease              // post…, patch…, pl, errata (and p, with PIsPatch)
	rankNonZero                  // a numeric component other than 0
	rankLetterSuffix             // one letter right after a number, then a separator or the end: 1.0a
	rankUpperBound               // padding of an UpperBound version
)

// component is one parsed version component.
type component struct {
	rank rank
	// letter is the lower-cased first letter of a word (ranks pre-release,
	// post-release, letter suffix): words compare by it alone.
	letter byte
	// digits is the value of a non-zero number without its leading zeros,
	// so that longer means larger and equal lengths compare bytewise.
	digits string
}

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

// scanner splits a version string into components without allocating,
// following libversion: runs of ASCII letters and runs of digits are
// components, every other byte separates them.
type scanner struct {
	s     string
	i     int
	flags Flags
	// pending holds a letter suffix read together with the number before it.
	pending    component
	hasPending bool
}

// next returns the next component and true, or the padding and false once
// the string is exhausted (and on every call after that).
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
		return sc.padding(), false
	}
	if isAlpha(s[i]) {
		j := skipAlpha(s, i)
		sc.i = j
		return component{rank: classify(s[i:j], sc.flags), letter: lower(s[i])}, true
	}
	for i < len(s) && s[i] == '0' {
		i++
	}
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	c := component{rank: rankZero}
	if j > i {
		c = component{rank: rankNonZero, digits: s[i:j]}
	}
	// One letter glued to a number and followed by a separator or the end
	// is a letter suffix (1.0a, 1.0a.1); a longer word, or a letter
	// followed by a digit (1.0a1, 1.0alpha), is a word of its own.
	if j < len(s) && isAlpha(s[j]) && (j+1 == len(s) || !isAlpha(s[j+1]) && !isDigit(s[j+1])) {
		sc.pending = component{rank: rankLetterSuffix, letter: lower(s[j])}
		sc.hasPending = true
		j++
	}
	sc.i = j
	return c, true
}

// padding is what the version is compared as once it ran out of
// components.
func (sc *scanner) padding() component {
	switch {
	case sc.flags&LowerBound != 0:
		return component{rank: rankLowerBound}
	case sc.flags&UpperBound != 0:
		return component{rank: rankUpperBound}
	}
	return component{rank: rankZero}
}

// classify returns the rank of a word (a run of letters): libversion's
// keywords alpha, beta, rc and pre… are pre-releases, post…, patch…, pl
// and errata post-releases (and p with PIsPatch); any other word is a
// pre-release, or a post-release with AnyIsPatch.
func classify(w string, flags Flags) rank {
	switch {
	case equalFold(w, "alpha"), equalFold(w, "beta"), equalFold(w, "rc"), hasPrefixFold(w, "pre"):
		return rankPreRelease
	case hasPrefixFold(w, "post"), hasPrefixFold(w, "patch"), equalFold(w, "pl"), equalFold(w, "errata"),
		flags&PIsPatch != 0 && equalFold(w, "p"):
		return rankPostRelease
	case flags&AnyIsPatch != 0:
		return rankPostRelease
	}
	return rankPreRelease
}

// Compare compares two versions in the generic order, libversion's, and
// returns -1 if a sorts before b, 0 if they are equal and +1 if a sorts
// after b. Versions from a repository should be normalized for its scheme
// first (see Normalize). Compare never fails: every string, including the
// empty one, is a version.
func Compare(a, b string) int { return CompareFlags(a, b, 0, 0) }

// CompareFlags is Compare with flags for each version, as libversion's
// version_compare4.
func CompareFlags(a, b string, fa, fb Flags) int {
	sa, sb := scanner{s: a, flags: fa}, scanner{s: b, flags: fb}
	// A bound pads once more after both versions ran out, so that the
	// bound component itself is compared.
	extraA, extraB := fa&(LowerBound|UpperBound) != 0, fb&(LowerBound|UpperBound) != 0
	for {
		x, okA := sa.next()
		y, okB := sb.next()
		if c := compareComponents(x, y); c != 0 {
			return c
		}
		if !okA && !okB {
			if !extraA && !extraB {
				return 0
			}
			extraA, extraB = false, false
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
