package gen

import (
	"slices"
	"unicode/utf8"

	"github.com/deltalog/deltalog/events"
)

// AppendJSON appends p as one line of the JSONL input format (without the
// newline): the fields of events.Package, empty ones left out, Extra keys
// sorted. The JSONL parser (and encoding/json) decode it back to p.
func AppendJSON(buf []byte, p *events.Package) []byte {
	buf = append(buf, `{"project":`...)
	buf = appendString(buf, p.Project)
	buf = append(buf, `,"name":`...)
	buf = appendString(buf, p.Name)
	buf = append(buf, `,"version":`...)
	buf = appendString(buf, p.Version)
	if p.Summary != "" {
		buf = append(buf, `,"summary":`...)
		buf = appendString(buf, p.Summary)
	}
	if p.Category != "" {
		buf = append(buf, `,"category":`...)
		buf = appendString(buf, p.Category)
	}
	if len(p.Maintainers) > 0 {
		buf = append(buf, `,"maintainers":[`...)
		for i, m := range p.Maintainers {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"email":`...)
			buf = appendString(buf, m.Email)
			if m.Name != "" {
				buf = append(buf, `,"name":`...)
				buf = appendString(buf, m.Name)
			}
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	if len(p.Links) > 0 {
		buf = append(buf, `,"links":[`...)
		for i, l := range p.Links {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"kind":`...)
			buf = appendString(buf, l.Kind)
			buf = append(buf, `,"url":`...)
			buf = appendString(buf, l.URL)
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	if len(p.Extra) > 0 {
		buf = append(buf, `,"extra":{`...)
		keys := make([]string, 0, len(p.Extra))
		for k := range p.Extra {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, k)
			buf = append(buf, ':')
			buf = appendString(buf, p.Extra[k])
		}
		buf = append(buf, '}')
	}
	return append(buf, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 is replaced by
// U+FFFD, as encoding/json does.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\t':
				buf = append(buf, '\\', 't')
			case '\r':
				buf = append(buf, '\\', 'r')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
