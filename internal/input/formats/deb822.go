package formats

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/deltalog/deltalog/events"
)

// debField identifies the deb822 fields the parser keeps. Every other field
// is only validated (UTF-8, size) and dropped without copying it.
type debField uint8

const (
	fOther debField = iota
	fPackage
	fVersion
	fSection
	fMaintainer
	fUploaders
	fHomepage
	fExtraSourceOnly
	fSource       // Packages only
	fDescription  // Packages only
	fArchitecture // Packages only
	fVcs          // any Vcs-* field; several per stanza
	numDebFields
)

var debFieldNames = [numDebFields]string{
	fPackage:         "Package",
	fVersion:         "Version",
	fSection:         "Section",
	fMaintainer:      "Maintainer",
	fUploaders:       "Uploaders",
	fHomepage:        "Homepage",
	fExtraSourceOnly: "Extra-Source-Only",
	fSource:          "Source",
	fDescription:     "Description",
	fArchitecture:    "Architecture",
}

// lookupDebField maps a field name (case-insensitive, as deb822 field
// names are) to the field the parser keeps, or fOther.
func lookupDebField(name []byte, binary bool) debField {
	switch len(name) {
	case 6:
		if binary && equalFoldASCII(name, "Source") {
			return fSource
		}
	case 7:
		if equalFoldASCII(name, "Package") {
			return fPackage
		}
		if equalFoldASCII(name, "Version") {
			return fVersion
		}
		if equalFoldASCII(name, "Section") {
			return fSection
		}
	case 8:
		if equalFoldASCII(name, "Homepage") {
			return fHomepage
		}
	case 9:
		if equalFoldASCII(name, "Uploaders") {
			return fUploaders
		}
	case 10:
		if equalFoldASCII(name, "Maintainer") {
			return fMaintainer
		}
	case 11:
		if binary && equalFoldASCII(name, "Description") {
			return fDescription
		}
	case 12:
		if binary && equalFoldASCII(name, "Architecture") {
			return fArchitecture
		}
	case 17:
		if equalFoldASCII(name, "Extra-Source-Only") {
			return fExtraSourceOnly
		}
	}
	if len(name) > 4 && equalFoldASCII(name[:4], "Vcs-") {
		return fVcs
	}
	return fOther
}

// span is a kept field value: buf[start:end] of the stanza, and the line
// where the field starts.
type span struct {
	start, end int
	line       int
	set        bool
}

type vcsSpan struct {
	kind string // lower-cased field name: "vcs-git"
	span
}

// debParser holds the per-stream state of the deb822 parser. All buffers are
// reused across stanzas, so that a stanza costs no allocations beyond the
// strings of the package it emits.
type debParser struct {
	name   string
	binary bool
	fn     func(events.Package) error
	stats  Stats
	intern interner

	// current stanza
	inStanza   bool
	stanzaLine int
	buf        []byte // kept values, concatenated
	fields     [numDebFields]span
	vcs        []vcsSpan

	// current field
	cur      debField
	curName  []byte
	curLine  int
	curSize  int
	curSpan  *span // where continuation lines are appended; nil: dropped
	scratchM []events.Maintainer
	scratchL []events.Link
	lower    []byte
}

func parseDeb822(r io.Reader, name string, binary bool, fn func(events.Package) error) (Stats, error) {
	p := &debParser{name: name, binary: binary, fn: fn, intern: make(interner, 1<<12)}
	lr := newLineReader(r)
	for {
		line, err := lr.next()
		if err == io.EOF {
			if p.inStanza {
				if err := p.emit(); err != nil {
					return p.stats, err
				}
			}
			return p.stats, nil
		}
		if err == errLineTooLong && bytes.IndexByte(line, 0) >= 0 {
			// Binary data, not text (/dev/zero given for a file).
			return p.stats, p.errorf(lr.line, "", "%w", ErrNULByte)
		}
		if err == errLineTooLong {
			// Located, like any oversized field, at the field's first line.
			field, at := p.curName, p.curLine
			if len(line) > 0 && line[0] != ' ' && line[0] != '\t' {
				field, at = line, lr.line
				if i := bytes.IndexByte(line, ':'); i >= 0 {
					field = line[:i]
				}
			}
			return p.stats, p.errorf(at, truncate(field, maxEchoed), "%w: line longer than %d bytes", ErrOversizedField, MaxFieldSize)
		}
		if err != nil {
			return p.stats, readError(name, lr.line, err)
		}
		if err := p.line(line, lr.line); err != nil {
			return p.stats, err
		}
	}
}

func (p *debParser) errorf(line int, field string, format string, args ...any) error {
	return &ParseError{File: p.name, Line: line, Field: field, Err: fmt.Errorf(format, args...)}
}

func isBlank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}

// line processes one line (without its line ending) numbered n.
func (p *debParser) line(line []byte, n int) error {
	if isBlank(line) {
		// Lines of only spaces and tabs end a stanza too: deb822 forbids
		// them inside a field, and apt treats them as separators.
		if p.inStanza {
			if err := p.emit(); err != nil {
				return err
			}
			p.reset()
		}
		return nil
	}

	if line[0] == ' ' || line[0] == '\t' {
		if !p.inStanza {
			return p.errorf(n, "", "%w: continuation line outside a field", ErrMalformed)
		}
		if err := checkLine(line); err != nil {
			return p.errorf(n, truncate(p.curName, maxEchoed), "%w", err)
		}
		p.curSize += len(line) + 1
		if p.curSize > MaxFieldSize {
			return p.errorf(p.curLine, truncate(p.curName, maxEchoed), "%w: more than %d bytes", ErrOversizedField, MaxFieldSize)
		}
		if p.curSpan != nil {
			// Folded field: continuation lines join with one space.
			v := trimSpace(line)
			if len(v) > 0 {
				if p.curSpan.end > p.curSpan.start {
					p.buf = append(p.buf, ' ')
				}
				p.buf = append(p.buf, v...)
				p.curSpan.end = len(p.buf)
			}
		}
		return nil
	}

	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		what := "line without a colon"
		if colon == 0 {
			what = "empty field name"
		}
		return p.errorf(n, "", "%w: %s: %q", ErrMalformed, what, truncate(line, 60))
	}
	fieldName := line[:colon]
	if !p.inStanza {
		p.inStanza = true
		p.stanzaLine = n
	}
	if err := checkLine(line); err != nil {
		return p.errorf(n, truncate(fieldName, maxEchoed), "%w", err)
	}
	p.curName = append(p.curName[:0], fieldName...)
	p.curLine = n
	p.curSize = len(line) + 1
	if p.curSize > MaxFieldSize {
		return p.errorf(n, truncate(fieldName, maxEchoed), "%w: more than %d bytes", ErrOversizedField, MaxFieldSize)
	}
	p.cur = lookupDebField(fieldName, p.binary)
	p.curSpan = nil
	if p.cur == fOther {
		return nil
	}

	value := trimSpace(line[colon+1:])
	var sp *span
	if p.cur == fVcs {
		kind := p.intern.lower(fieldName, &p.lower)
		for i := range p.vcs {
			if p.vcs[i].kind == kind {
				return p.errorf(n, truncate(fieldName, maxEchoed), "%w (first on line %d)", ErrDuplicateField, p.vcs[i].line)
			}
		}
		p.vcs = append(p.vcs, vcsSpan{kind: kind})
		sp = &p.vcs[len(p.vcs)-1].span
	} else {
		sp = &p.fields[p.cur]
		if sp.set {
			return p.errorf(n, truncate(fieldName, maxEchoed), "%w (first on line %d)", ErrDuplicateField, sp.line)
		}
	}
	*sp = span{start: len(p.buf), line: n, set: true}
	p.buf = append(p.buf, value...)
	sp.end = len(p.buf)
	if p.cur != fDescription {
		// The summary is the first line of Description; the long
		// description is not kept.
		p.curSpan = sp
	}
	return nil
}

func (p *debParser) reset() {
	p.inStanza = false
	p.buf = p.buf[:0]
	p.fields = [numDebFields]span{}
	p.vcs = p.vcs[:0]
	p.cur = fOther
	p.curName = p.curName[:0]
	p.curSpan = nil
}

func (p *debParser) value(f debField) []byte {
	sp := p.fields[f]
	return p.buf[sp.start:sp.end]
}

// emit turns the current stanza into a package and passes it to fn.
func (p *debParser) emit() error {
	if p.fields[fExtraSourceOnly].set && equalFoldASCII(p.value(fExtraSourceOnly), "yes") {
		// A source kept in the archive only because a binary was built
		// from it (Built-Using); not part of the suite's content.
		return nil
	}
	name := p.value(fPackage)
	if len(name) == 0 {
		return p.errorf(p.stanzaLine, "Package", "%w", ErrMissingField)
	}
	version := p.value(fVersion)
	if len(version) == 0 {
		return p.errorf(p.stanzaLine, "Version", "%w", ErrMissingField)
	}
	pkg := events.Package{
		Name:     string(name),
		Version:  string(version),
		Category: p.intern.get(p.value(fSection)),
	}
	pkg.Project = pkg.Name
	if p.binary {
		if err := p.binaryFields(&pkg); err != nil {
			return err
		}
	}

	ms := p.scratchM[:0]
	var err error
	for _, f := range [...]debField{fMaintainer, fUploaders} {
		if ms, err = parseMaintainers(p.value(f), ms, &p.intern, &p.lower); err != nil {
			return p.errorf(p.fields[f].line, debFieldNames[f], "%w", err)
		}
	}
	p.scratchM = ms
	if len(ms) > 0 {
		pkg.Maintainers = append([]events.Maintainer(nil), ms...)
	}

	ls := p.scratchL[:0]
	if u := firstToken(p.value(fHomepage)); len(u) > 0 {
		ls = append(ls, events.Link{Kind: "homepage", URL: p.intern.get(u)})
	}
	for _, v := range p.vcs {
		// Vcs-Git may carry " -b branch" and " [subdir]" after the URL;
		// the link keeps the URL proper.
		if u := firstToken(p.buf[v.start:v.end]); len(u) > 0 {
			ls = append(ls, events.Link{Kind: v.kind, URL: p.intern.get(u)})
		}
	}
	p.scratchL = ls
	if len(ls) > 0 {
		pkg.Links = append([]events.Link(nil), ls...)
	}

	if field, value, err := validatePackage(&pkg); err != nil {
		f, line := p.debFieldOf(field, value)
		return p.errorf(line, f, "%w", err)
	}
	pkg.Normalize()
	p.stats.Packages++
	return p.fn(pkg)
}

// debFieldOf names the deb822 field a package field came from, given the
// value at fault, and the line it starts on (the stanza's for a field
// not found).
func (p *debParser) debFieldOf(field, value string) (string, int) {
	var candidates []debField
	switch field {
	case "project":
		candidates = []debField{fSource, fPackage}
	case "name":
		candidates = []debField{fPackage}
	case "version":
		candidates = []debField{fVersion, fSource}
	case "category":
		candidates = []debField{fSection}
	case "summary":
		candidates = []debField{fDescription}
	case "maintainers":
		candidates = []debField{fMaintainer, fUploaders}
	case "links":
		candidates = []debField{fHomepage}
		for _, v := range p.vcs {
			if bytes.Contains(p.buf[v.start:v.end], []byte(value)) {
				return v.kind, v.line
			}
		}
	case "extra":
		candidates = []debField{fSource, fArchitecture}
	}
	for _, f := range candidates {
		if p.fields[f].set && bytes.Contains(p.value(f), []byte(value)) {
			return debFieldNames[f], p.fields[f].line
		}
	}
	return field, p.stanzaLine
}

// binaryFields fills what a binary Packages stanza has beyond a source one:
// the project from Source, the summary, the architecture.
func (p *debParser) binaryFields(pkg *events.Package) error {
	extra := make(map[string]string, 2)
	if src := p.value(fSource); len(src) > 0 {
		srcName, srcVersion, ok := splitSource(src)
		if !ok {
			return p.errorf(p.fields[fSource].line, "Source", "%w: want \"name\" or \"name (version)\", got %q", ErrMalformed, truncate(src, 60))
		}
		pkg.Project = p.intern.get(srcName)
		if len(srcVersion) > 0 {
			extra["source_version"] = p.intern.get(srcVersion)
		}
	}
	if arch := p.value(fArchitecture); len(arch) > 0 {
		extra["architecture"] = p.intern.get(arch)
	}
	if len(extra) > 0 {
		pkg.Extra = extra
	}
	pkg.Summary = string(p.value(fDescription))
	return nil
}

// splitSource splits a binary package's Source field, "name" or
// "name (version)" (the version is there when it differs from the binary's,
// e.g. after a binNMU).
func splitSource(src []byte) (name, version []byte, ok bool) {
	i := bytes.IndexAny(src, " \t(")
	if i < 0 {
		return src, nil, true
	}
	name, rest := src[:i], trimSpace(src[i:])
	if len(name) == 0 || len(rest) < 3 || rest[0] != '(' || rest[len(rest)-1] != ')' {
		return nil, nil, false
	}
	version = trimSpace(rest[1 : len(rest)-1])
	return name, version, len(version) > 0
}

// firstToken returns v up to its first space or tab.
func firstToken(v []byte) []byte {
	if i := bytes.IndexAny(v, " \t"); i >= 0 {
		return v[:i]
	}
	return v
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFoldASCII reports whether b equals the ASCII string s ignoring case.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c, d := b[i], s[i]
		if c == d {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// validString returns b as a string with invalid UTF-8 replaced, for error
// messages.
func validString(b []byte) string {
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return validString(b[:n]) + "…"
	}
	return validString(b)
}
