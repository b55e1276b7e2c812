package version

import "github.com/deltalog/deltalog/events"

// Scheme names the versioning rules of a repository. It is the public
// events.VersionScheme, so that batches and update parameters carry it
// without exposing this package.
type Scheme = events.VersionScheme

// The schemes deltalog knows.
const (
	// SchemeGeneric is libversion's order, for repositories without rules
	// of their own (the default of the jsonl format).
	SchemeGeneric Scheme = "generic"
	// SchemeDebian is dpkg's order (Debian Policy §5.6.12).
	SchemeDebian Scheme = "debian"
	// SchemePyPI is PEP 440's order.
	SchemePyPI Scheme = "pypi"
	// SchemeSemver is Semantic Versioning 2.0's precedence, as npm uses it.
	SchemeSemver Scheme = "semver"
	// SchemeNPM is the former name of SchemeSemver, still accepted (by the
	// CLI, in stored batches) and read as SchemeSemver.
	SchemeNPM Scheme = "npm"
)

// OrderVersion names the definition of every order in this package, of
// Normalize and of Key. Repositories record the OrderVersion their version
// keys were computed with; an update of a repository recorded with
// another one re-derives it (events of kind invalidated, new keys, no
// history entries). Bump it with any change that can change a comparison,
// a normalization or a key.
//
// 1: a generic order of its own, Debian overlays compared by it.
// 2: libversion's algorithm across repositories, each scheme's own order
// within a repository.
const OrderVersion = 2

// Valid reports whether s is a known scheme (an alias included).
func Valid(s Scheme) bool {
	switch s {
	case SchemeGeneric, SchemeDebian, SchemePyPI, SchemeSemver, SchemeNPM:
		return true
	}
	return false
}

// Canonical returns the name s is stored under: SchemeSemver for its
// alias SchemeNPM, s itself otherwise.
func Canonical(s Scheme) Scheme {
	if s == SchemeNPM {
		return SchemeSemver
	}
	return s
}

// Order is the version order of one scheme.
type Order interface {
	// Compare orders two versions of one repository by the scheme's own
	// rules, returning -1, 0 or +1: which of two versions of a package an
	// overlay keeps, whether a change of version is an upgrade or a
	// downgrade. Every string is a version; Compare never fails.
	Compare(a, b string) int
	// Normalize rewrites a version into the form the generic order
	// (Compare, Key) compares across repositories: what identifies the
	// upstream release, spelled as libversion reads it.
	Normalize(v string) string
}

// OrderOf returns the order of scheme s; an unknown scheme has the generic
// order.
func OrderOf(s Scheme) Order {
	switch Canonical(s) {
	case SchemeDebian:
		return debianOrder{}
	case SchemePyPI:
		return pypiOrder{}
	case SchemeSemver:
		return semverOrder{}
	}
	return genericOrder{}
}

// genericOrder is libversion's order on versions as they are.
type genericOrder struct{}

func (genericOrder) Compare(a, b string) int   { return Compare(a, b) }
func (genericOrder) Normalize(v string) string { return v }

// Normalize is OrderOf(s).Normalize(v).
func Normalize(s Scheme, v string) string { return OrderOf(s).Normalize(v) }

// SchemeKey is Key(Normalize(s, v)): the order-preserving key of a version
// as spelled in a repository of scheme s, for comparison across
// repositories. deltalog stores it with every package.
func SchemeKey(s Scheme, v string) []byte { return Key(Normalize(s, v)) }
