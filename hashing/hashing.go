package hashing

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"

	"github.com/cespare/xxhash/v2"

	"github.com/deltalog/deltalog/events"
)

// AlgorithmVersion identifies the canonical encoding and the way checksums
// are combined. Bump it with any change to either.
const AlgorithmVersion = 1

// DefaultSeed is the xxhash seed used unless configuration says otherwise.
const DefaultSeed uint64 = 0x64656c74616c6f67 // "deltalog"

// Sum is a 64-bit checksum.
type Sum uint64

// String renders the sum as 16 lower-case hex digits, the form used in
// events, output and the HTTP API.
func (s Sum) String() string {
	var b [16]byte
	const hexdigits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		b[i] = hexdigits[s&0xf]
		s >>= 4
	}
	return string(b[:])
}

// Int64 is the sum's two's-complement form, as stored in a bigint column.
func (s Sum) Int64() int64 { return int64(s) }

// ParseSum parses the 16-hex-digit form written by String.
func ParseSum(s string) (Sum, error) {
	if len(s) != 16 {
		return 0, fmt.Errorf("hashing: checksum %q: want 16 hex digits", s)
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("hashing: checksum %q: %w", s, err)
	}
	return Sum(v), nil
}

// Hasher computes checksums with one seed. It reuses an encoding buffer, so
// it is not safe for concurrent use; make one per goroutine.
type Hasher struct {
	seed uint64
	d    *xxhash.Digest
	buf  []byte
}

// New returns a Hasher for seed.
func New(seed uint64) *Hasher {
	return &Hasher{seed: seed, d: xxhash.NewWithSeed(seed), buf: make([]byte, 0, 512)}
}

// sum hashes h.buf with the seed.
func (h *Hasher) sum() Sum {
	h.d.ResetWithSeed(h.seed)
	h.d.Write(h.buf)
	return Sum(h.d.Sum64())
}

// Seed is the seed this Hasher was made with.
func (h *Hasher) Seed() uint64 { return h.seed }

// Package returns the checksum of p's canonical encoding.
func (h *Hasher) Package(p *events.Package) Sum {
	h.buf = AppendCanonical(h.buf[:0], p)
	return h.sum()
}

// Packageset returns the checksum of a packageset from its package
// checksums. sums must be sorted ascending and free of repetitions (Group
// guarantees both); the result is then independent of package order.
func (h *Hasher) Packageset(sums []Sum) Sum {
	h.buf = binary.LittleEndian.AppendUint64(h.buf[:0], uint64(len(sums)))
	for _, s := range sums {
		h.buf = binary.LittleEndian.AppendUint64(h.buf, uint64(s))
	}
	return h.sum()
}

// Contribution is what one packageset adds to its repository's state
// checksum (and, through it, to the global one).
func (h *Hasher) Contribution(repo, project string, packageset Sum) Sum {
	h.buf = appendString(h.buf[:0], repo)
	h.buf = appendString(h.buf, project)
	h.buf = binary.LittleEndian.AppendUint64(h.buf, uint64(packageset))
	return h.sum()
}

// AppendCanonical appends the canonical encoding of p to buf. The encoding
// is a version byte followed by the fields in a fixed order, each string as
// a uvarint length and its bytes, each list as a uvarint count and its
// elements in sorted order, and Extra as sorted key/value pairs. Lists that
// are not in canonical order are sorted on a copy, so the encoding does not
// depend on the caller having called Normalize.
func AppendCanonical(buf []byte, p *events.Package) []byte {
	buf = append(buf, AlgorithmVersion)
	buf = appendString(buf, p.Project)
	buf = appendString(buf, p.Name)
	buf = appendString(buf, p.Version)
	buf = appendString(buf, p.Summary)
	buf = appendString(buf, p.Category)

	ms := p.Maintainers
	if !slices.IsSortedFunc(ms, compareMaintainer) {
		ms = slices.SortedFunc(slices.Values(ms), compareMaintainer)
	}
	buf = binary.AppendUvarint(buf, uint64(len(ms)))
	for _, m := range ms {
		buf = appendString(buf, m.Email)
		buf = appendString(buf, m.Name)
	}

	ls := p.Links
	if !slices.IsSortedFunc(ls, compareLink) {
		ls = slices.SortedFunc(slices.Values(ls), compareLink)
	}
	buf = binary.AppendUvarint(buf, uint64(len(ls)))
	for _, l := range ls {
		buf = appendString(buf, l.Kind)
		buf = appendString(buf, l.URL)
	}

	buf = binary.AppendUvarint(buf, uint64(len(p.Extra)))
	switch len(p.Extra) {
	case 0:
	case 1:
		for k, v := range p.Extra {
			buf = appendString(buf, k)
			buf = appendString(buf, v)
		}
	default:
		var keysArr [8]string
		keys := keysArr[:0]
		for k := range p.Extra {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			buf = appendString(buf, k)
			buf = appendString(buf, p.Extra[k])
		}
	}
	return buf
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func compareMaintainer(a, b events.Maintainer) int {
	return cmp.Or(cmp.Compare(a.Email, b.Email), cmp.Compare(a.Name, b.Name))
}

func compareLink(a, b events.Link) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.URL, b.URL))
}
