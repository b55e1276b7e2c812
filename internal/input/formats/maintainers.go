package formats

import (
	"bytes"
	"fmt"

	"github.com/deltalog/deltalog/events"
)

// parseMaintainers appends the entries of a Debian Maintainer or Uploaders
// value to dst. The value is an RFC 822 style list,
//
//	Name <email>, "Last, First" <email2>, Other <email3>
//
// parsed leniently, because real indexes are not strict: names may be
// quoted and contain commas or angle brackets inside the quotes, trailing
// commas and empty entries are ignored, a missing comma between two
// complete entries ("A <a@x> B <b@y>", seen in bookworm) is tolerated, and
// a bare "email" or "email (Name)" is accepted. net/mail rejects several of
// these. The email, lower-cased, is the maintainer's identity; an entry
// without one is an error.
func parseMaintainers(v []byte, dst []events.Maintainer, in *interner, scratch *[]byte) ([]events.Maintainer, error) {
	i := 0
	for {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == ',') {
			i++
		}
		if i >= len(v) {
			return dst, nil
		}
		start := i
		inQuote := false
	scan:
		for ; i < len(v); i++ {
			switch c := v[i]; {
			case c == '"':
				inQuote = !inQuote
			case c == '\\' && inQuote:
				i++ // quoted-pair: skip the escaped byte
			case !inQuote && (c == '<' || c == ','):
				break scan
			}
		}
		if i < len(v) && v[i] == '<' {
			gt := bytes.IndexByte(v[i+1:], '>')
			if gt < 0 {
				return dst, fmt.Errorf("%w: unterminated \"<\" in %q", ErrMalformed, truncate(v[start:], 60))
			}
			email := trimSpace(v[i+1 : i+1+gt])
			name := trimSpace(v[start:i])
			i += gt + 2
			if !isEmail(email) {
				return dst, fmt.Errorf("%w: entry %q has no email", ErrMalformed, truncate(v[start:i], 60))
			}
			dst = append(dst, events.Maintainer{Email: in.lower(email, scratch), Name: in.get(unquote(name))})
			continue
		}
		// No angle brackets: "email" or "email (Name)".
		entry := trimSpace(v[start:min(i, len(v))])
		email, name := entry, []byte(nil)
		if p := bytes.IndexByte(entry, '('); p > 0 && entry[len(entry)-1] == ')' {
			email, name = trimSpace(entry[:p]), trimSpace(entry[p+1:len(entry)-1])
		}
		if !isEmail(email) {
			return dst, fmt.Errorf("%w: entry %q has no email", ErrMalformed, truncate(entry, 60))
		}
		dst = append(dst, events.Maintainer{Email: in.lower(email, scratch), Name: in.get(name)})
	}
}

// isEmail is deliberately weak: something with an "@" inside and no
// whitespace or brackets. Validating addresses is not this parser's job.
func isEmail(b []byte) bool {
	at := bytes.IndexByte(b, '@')
	return at > 0 && at < len(b)-1 && !bytes.ContainsAny(b, " \t<>,\"")
}

// unquote strips the quotes of a fully quoted display name and resolves its
// quoted-pairs. A name with quotes only inside (Bruno "Fuddl" Kleinert) is
// kept as written.
func unquote(b []byte) []byte {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return b
	}
	inner := b[1 : len(b)-1]
	if bytes.IndexByte(inner, '"') >= 0 && bytes.IndexByte(inner, '\\') < 0 {
		return b // "A" and "B": not one quoted string
	}
	if bytes.IndexByte(inner, '\\') < 0 {
		return trimSpace(inner)
	}
	out := make([]byte, 0, len(inner))
	for i := 0; i < len(inner); i++ {
		if inner[i] == '\\' && i+1 < len(inner) {
			i++
		}
		out = append(out, inner[i])
	}
	return trimSpace(out)
}
