package hashing_test

import (
	"cmp"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
)

// FuzzCanonical: the canonical encoding holds exactly the package's
// content — it decodes back to the package with its lists sorted, so two
// packages that differ have different encodings — and it does not depend on
// the order of the lists, nor then does the checksum.
func FuzzCanonical(f *testing.F) {
	f.Add("hello", "hello", "2.12-1", "a friendly greeter", "devel",
		"santiago@debian.org|Santiago Vila\nada@example.org|Ada", "homepage|https://www.gnu.org/\nvcs-git|https://salsa", "arch=any\nrank=1")
	f.Add("", "", "", "", "", "", "", "")
	f.Add("x", "y", "1", "", "", "a|\na|", "k|u\nk|u", "=\nk=v=w")
	f.Add("ünï", "\x00", "\xff", "s\nt", "", "|", "|", "\x80=\x00")
	f.Fuzz(func(t *testing.T, project, name, version, summary, category, maintainers, links, extra string) {
		p := events.Package{Project: project, Name: name, Version: version, Summary: summary, Category: category}
		for _, line := range lines(maintainers) {
			email, n, _ := strings.Cut(line, "|")
			p.Maintainers = append(p.Maintainers, events.Maintainer{Email: email, Name: n})
		}
		for _, line := range lines(links) {
			kind, url, _ := strings.Cut(line, "|")
			p.Links = append(p.Links, events.Link{Kind: kind, URL: url})
		}
		for _, line := range lines(extra) {
			k, v, _ := strings.Cut(line, "=")
			if p.Extra == nil {
				p.Extra = map[string]string{}
			}
			p.Extra[k] = v
		}

		enc := hashing.AppendCanonical(nil, &p)
		got, err := decodeCanonical(enc)
		require.NoError(t, err)
		want := p
		want.Maintainers = slices.SortedFunc(slices.Values(p.Maintainers), func(a, b events.Maintainer) int {
			return cmp.Or(strings.Compare(a.Email, b.Email), strings.Compare(a.Name, b.Name))
		})
		want.Links = slices.SortedFunc(slices.Values(p.Links), func(a, b events.Link) int {
			return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.URL, b.URL))
		})
		require.Equal(t, want, got) // empty lists are nil on both sides

		rev := p
		rev.Maintainers = slices.Clone(p.Maintainers)
		slices.Reverse(rev.Maintainers)
		rev.Links = slices.Clone(p.Links)
		slices.Reverse(rev.Links)
		require.Equal(t, enc, hashing.AppendCanonical(nil, &rev), "list order changed the encoding")
		h := hashing.New(hashing.DefaultSeed)
		require.Equal(t, h.Package(&p), h.Package(&rev))
	})
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// decodeCanonical reads the encoding AppendCanonical documents, and
// refuses trailing bytes.
func decodeCanonical(b []byte) (events.Package, error) {
	var p events.Package
	if len(b) == 0 || b[0] != hashing.AlgorithmVersion {
		return p, errors.New("no version byte")
	}
	b = b[1:]
	var err error
	uvarint := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			err = errors.New("bad uvarint")
			return 0
		}
		b = b[n:]
		return v
	}
	str := func() string {
		n := uvarint()
		if err != nil || n > uint64(len(b)) {
			err = errors.New("string beyond the end")
			return ""
		}
		s := string(b[:n])
		b = b[n:]
		return s
	}
	p.Project, p.Name, p.Version, p.Summary, p.Category = str(), str(), str(), str(), str()
	for n := uvarint(); err == nil && n > 0; n-- {
		p.Maintainers = append(p.Maintainers, events.Maintainer{Email: str(), Name: str()})
	}
	for n := uvarint(); err == nil && n > 0; n-- {
		p.Links = append(p.Links, events.Link{Kind: str(), URL: str()})
	}
	for n := uvarint(); err == nil && n > 0; n-- {
		if p.Extra == nil {
			p.Extra = map[string]string{}
		}
		k := str()
		p.Extra[k] = str()
	}
	if err == nil && len(b) > 0 {
		err = errors.New("trailing bytes")
	}
	return p, err
}
