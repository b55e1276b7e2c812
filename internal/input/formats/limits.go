package formats

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/deltalog/deltalog/events"
)

// Limits on the values PostgreSQL indexes, far above real data and below
// what its B-tree indexes take (a row of at most 2704 bytes, for the widest
// index: project, version, version key): a value past them is the input's
// error, located, not a database error in the middle of a transaction.
// The largest real values, over the shared Debian bookworm and trixie
// indexes (with overlays and backports) and the PyPI and npm lists: a
// name or project of 188 bytes (PyPI; npm caps names at 214), a version
// of 52, an email of 55, a maintainer's name of 46, a link of 206.
const (
	// MaxNameSize bounds names and versions: the repository, a package's
	// project, name, version and category, a maintainer's email and name,
	// a link's kind, the key of an extra field.
	MaxNameSize = 512
	// MaxURLSize bounds a link's URL.
	MaxURLSize = 2048
)

// maxEchoed is how much of a bad value an error message quotes.
const maxEchoed = 60

// checkValue reports a value the database cannot store or index: a NUL
// byte (PostgreSQL's text cannot hold one), or more than limit bytes. The
// error quotes the start of the value.
func checkValue(v string, limit int) error {
	if i := strings.IndexByte(v, 0); i >= 0 {
		return fmt.Errorf("%w at byte %d of %s", ErrNULByte, i+1, echo(v))
	}
	if len(v) > limit {
		return fmt.Errorf("%w: %d bytes, more than %d: %s", ErrOversizedField, len(v), limit, echo(v))
	}
	return nil
}

// echo quotes the start of v for an error message: at most maxEchoed
// bytes, cut at a character boundary and marked as cut.
func echo(v string) string {
	if len(v) <= maxEchoed {
		return fmt.Sprintf("%q", v)
	}
	cut := maxEchoed
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return fmt.Sprintf("%q…", v[:cut])
}

// ValidateRepo checks a repository name against the same limits as the
// names in the input: not empty, no NUL byte, at most MaxNameSize bytes.
func ValidateRepo(name string) error {
	if name == "" {
		return fmt.Errorf("repository name: %w", ErrMissingField)
	}
	if err := checkValue(name, MaxNameSize); err != nil {
		return fmt.Errorf("repository name: %w", err)
	}
	return nil
}

// validatePackage checks every value of p against the limits. It returns the
// JSON name of the field at fault (name, maintainers …), its bad value and
// the error, or a nil error.
func validatePackage(p *events.Package) (field, value string, err error) {
	check := func(f, v string, limit int) bool {
		if err = checkValue(v, limit); err != nil {
			field, value = f, v
			return false
		}
		return true
	}
	if !check("name", p.Name, MaxNameSize) || !check("project", p.Project, MaxNameSize) ||
		!check("version", p.Version, MaxNameSize) || !check("category", p.Category, MaxNameSize) ||
		!check("summary", p.Summary, MaxFieldSize) {
		return field, value, err
	}
	for _, m := range p.Maintainers {
		if !check("maintainers", m.Email, MaxNameSize) || !check("maintainers", m.Name, MaxNameSize) {
			return field, value, err
		}
	}
	for _, l := range p.Links {
		if !check("links", l.Kind, MaxNameSize) || !check("links", l.URL, MaxURLSize) {
			return field, value, err
		}
	}
	for k, v := range p.Extra {
		if !check("extra", k, MaxNameSize) || !check("extra", v, MaxFieldSize) {
			return field, value, err
		}
	}
	return "", "", nil
}
