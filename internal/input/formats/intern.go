package formats

import (
	"unicode"
	"unicode/utf8"
)

// maxInterned bounds an interner, so that adversarial input cannot make it
// grow without limit; past it, strings are simply allocated.
const maxInterned = 1 << 17

// interner returns one shared string per distinct value within one parse.
// Indexes repeat the same sections, architectures, maintainers, versions
// and homepages thousands of times; sharing them saves both the allocation
// while parsing and the memory of a whole Snapshot. Looking up m[string(b)]
// does not allocate.
type interner map[string]string

func (in interner) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) < maxInterned {
		in[s] = s
	}
	return s
}

// lower returns b lower-cased and interned, using *scratch as work space.
// ASCII is lowered in place; other text goes through unicode case mapping.
func (in interner) lower(b []byte, scratch *[]byte) string {
	buf := (*scratch)[:0]
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return in.lowerUnicode(b, scratch)
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	*scratch = buf
	return in.get(buf)
}

func (in interner) lowerUnicode(b []byte, scratch *[]byte) string {
	buf := (*scratch)[:0]
	for _, r := range string(b) {
		buf = utf8.AppendRune(buf, unicode.ToLower(r))
	}
	*scratch = buf
	return in.get(buf)
}
