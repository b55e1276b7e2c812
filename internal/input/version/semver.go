package version

import "strings"

// semverOrder is Semantic Versioning 2.0's precedence (§11), reading
// versions as npm does: a leading v or = is allowed, build metadata is
// ignored. Versions semver rejects sort before every valid one, in the
// generic order among themselves.
type semverOrder struct{}

type semverVersion struct {
	core [3]string // major, minor, patch
	pre  []string  // nil when there is no pre-release
}

func parseSemver(v string) (semverVersion, bool) {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(strings.TrimPrefix(v, "="), "v")
	if i := strings.IndexByte(v, '+'); i >= 0 {
		if !validIdentifiers(v[i+1:]) {
			return semverVersion{}, false
		}
		v = v[:i]
	}
	var s semverVersion
	if i := strings.IndexByte(v, '-'); i >= 0 {
		if !validIdentifiers(v[i+1:]) {
			return semverVersion{}, false
		}
		s.pre = strings.Split(v[i+1:], ".")
		v = v[:i]
	}
	core := strings.Split(v, ".")
	if len(core) != 3 {
		return semverVersion{}, false
	}
	for i, n := range core {
		if n == "" || !allDigits(n) {
			return semverVersion{}, false
		}
		s.core[i] = n
	}
	return s, true
}

// validIdentifiers reports whether s is a dot-separated list of non-empty
// identifiers of ASCII letters, digits and hyphens.
func validIdentifiers(s string) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for i := range len(id) {
			if c := id[i]; !isAlpha(c) && !isDigit(c) && c != '-' {
				return false
			}
		}
	}
	return true
}

func (semverOrder) Compare(a, b string) int { return compareParsed(a, b, parseSemver, compareSemver) }

func compareSemver(x, y semverVersion) int {
	for i := range x.core {
		if c := cmpNumbers(x.core[i], y.core[i]); c != 0 {
			return c
		}
	}
	switch {
	case x.pre == nil && y.pre == nil:
		return 0
	case x.pre == nil:
		return 1
	case y.pre == nil:
		return -1
	}
	return compareIdentifiers(x.pre, y.pre, true)
}
