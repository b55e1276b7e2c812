package hashing_test

import (
	"cmp"
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
		var got events.Package
		err := hashing.DecodeCanonical(enc, &got)
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
