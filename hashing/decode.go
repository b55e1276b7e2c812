package hashing

import (
	"encoding/binary"
	"errors"

	"github.com/deltalog/deltalog/events"
)

// ErrRecord is returned for bytes that are not a package's canonical
// encoding.
var ErrRecord = errors.New("hashing: malformed canonical package record")

// DecodeCanonical decodes AppendCanonical's encoding into p, refusing
// anything but one whole record of the current AlgorithmVersion. The encoding
// lists maintainers, links and extras sorted, as Normalize leaves a parsed
// package, so the decoded package equals the one encoded.
func DecodeCanonical(b []byte, p *events.Package) error {
	if len(b) == 0 || b[0] != AlgorithmVersion {
		return ErrRecord
	}
	d := decoder{b: b[1:]}
	*p = events.Package{Project: d.str(), Name: d.str(), Version: d.str(), Summary: d.str(), Category: d.str()}
	if n := d.count(); n > 0 {
		p.Maintainers = make([]events.Maintainer, n)
		for i := range p.Maintainers {
			p.Maintainers[i] = events.Maintainer{Email: d.str(), Name: d.str()}
		}
	}
	if n := d.count(); n > 0 {
		p.Links = make([]events.Link, n)
		for i := range p.Links {
			p.Links[i] = events.Link{Kind: d.str(), URL: d.str()}
		}
	}
	if n := d.count(); n > 0 {
		p.Extra = make(map[string]string, n)
		for range n {
			k := d.str()
			p.Extra[k] = d.str()
		}
	}
	if d.bad || len(d.b) > 0 {
		return ErrRecord
	}
	return nil
}

// decoder reads uvarint-prefixed strings and counts; bad records a
// truncated or oversized field.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) count() int {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

func (d *decoder) str() string {
	n := d.count()
	if n > len(d.b) {
		d.bad, d.b = true, nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
