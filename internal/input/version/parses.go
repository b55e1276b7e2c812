package version

import "strings"

// Parses reports whether v is a version by the syntax of scheme s: dpkg's
// for Debian (what dpkg --validate-version accepts), PEP 440's for PyPI,
// Semantic Versioning's for semver (the versions OrderOf's orders parse
// rather than sort first). The generic scheme has no syntax: every version
// parses. The catalog reports the versions that do not as problems; the
// database's version_parses (migration 015) is the same definition in SQL,
// and a test holds the two together.
func Parses(s Scheme, v string) bool {
	switch Canonical(s) {
	case SchemeDebian:
		return debianParses(v)
	case SchemePyPI:
		_, ok := parsePEP440(v)
		return ok
	case SchemeSemver:
		_, ok := parseSemver(v)
		return ok
	}
	return true
}

// debianParses is dpkg's parseversion, errors and warnings alike (dpkg
// --validate-version refuses both): blanks trimmed, none inside; an epoch
// before the first colon that C's strtol reads as a number in [0,
// INT_MAX] (it skips leading white space and takes a sign); something after
// the colon; an upstream version that starts with a digit and holds only
// alphanumerics and .+-~: ; a revision after the last hyphen, non-empty, of
// alphanumerics and .+~ only.
func debianParses(v string) bool {
	v = strings.Trim(v, " \t")
	if v == "" || strings.ContainsAny(v, " \t") {
		return false
	}
	if i := strings.IndexByte(v, ':'); i >= 0 {
		if !strtolEpoch(v[:i]) || i == len(v)-1 {
			return false
		}
		v = v[i+1:]
	}
	upstream, revision, hasRevision := v, "", false
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		upstream, revision, hasRevision = v[:i], v[i+1:], true
	}
	if hasRevision && revision == "" || upstream == "" || !isDigit(upstream[0]) {
		return false
	}
	for i := range len(upstream) {
		if c := upstream[i]; !isDigit(c) && !isAlpha(c) && !strings.ContainsRune(".-+~:", rune(c)) {
			return false
		}
	}
	for i := range len(revision) {
		if c := revision[i]; !isDigit(c) && !isAlpha(c) && !strings.ContainsRune(".+~", rune(c)) {
			return false
		}
	}
	return true
}

// strtolEpoch reports whether strtol(s, &end, 10) consumes all of s and
// yields a number from 0 to INT_MAX, as dpkg requires of an epoch.
func strtolEpoch(s string) bool {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	negative := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		negative, s = s[0] == '-', s[1:]
	}
	if s == "" || !allDigits(s) {
		return false
	}
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return true // zero, whatever its sign
	}
	return !negative && (len(s) < 10 || len(s) == 10 && s <= "2147483647")
}
