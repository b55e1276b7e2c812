package gen

import (
	"strconv"
	"strings"

	"github.com/deltalog/deltalog/events"
)

// family is a kind of repository: how it spells versions, whether it has
// maintainers, whether its packages have a page of their own.
type family struct {
	name        string
	revision    string // "" or the separator before a packaging revision: "-", "_", "-r"
	maintainers bool
	page        string // per-package page URL prefix, "" for none
	categories  []string
}

var (
	distroCategories = []string{"admin", "devel", "libs", "net", "utils", "text", "python", "perl", "web", "x11",
		"graphics", "sound", "games", "science", "math", "database", "editors", "shells", "mail", "doc"}
	bsdCategories = []string{"devel", "net", "www", "sysutils", "textproc", "lang", "databases", "graphics",
		"audio", "x11", "security", "math", "misc", "editors", "games"}
	registryCategories = []string{"library", "cli", "framework", "plugin", "tool"}
)

// families of real repositories, in the order repositories are assigned to
// them (round robin: the largest repositories are one of each).
var families = []family{
	{name: "debian", revision: "-", maintainers: true, categories: distroCategories},
	{name: "pypi", page: "https://pypi.org/project/", categories: registryCategories},
	{name: "fedora", revision: "-", maintainers: true, categories: distroCategories},
	{name: "npm", page: "https://www.npmjs.com/package/", categories: registryCategories},
	{name: "freebsd", revision: "_", maintainers: true, categories: bsdCategories},
	{name: "alpine", revision: "-r", maintainers: true, categories: distroCategories},
	{name: "nix", categories: distroCategories},
	{name: "arch", revision: "-", maintainers: true, categories: distroCategories},
	{name: "ubuntu", revision: "-", maintainers: true, categories: distroCategories},
	{name: "gentoo", revision: "-r", maintainers: true, categories: distroCategories},
	{name: "crates_io", page: "https://crates.io/crates/", categories: registryCategories},
	{name: "homebrew", maintainers: false, categories: distroCategories},
	{name: "opensuse", revision: "-", maintainers: true, categories: distroCategories},
	{name: "openbsd", revision: "p", maintainers: true, categories: bsdCategories},
	{name: "cran", page: "https://cran.r-project.org/package=", maintainers: true, categories: registryCategories},
	{name: "void", revision: "_", maintainers: true, categories: distroCategories},
	{name: "macports", revision: "_", maintainers: true, categories: bsdCategories},
	{name: "pkgsrc", revision: "nb", maintainers: true, categories: bsdCategories},
	{name: "hackage", page: "https://hackage.haskell.org/package/", maintainers: true, categories: registryCategories},
	{name: "mageia", revision: "-", maintainers: true, categories: distroCategories},
	{name: "rubygems", page: "https://rubygems.org/gems/", categories: registryCategories},
	{name: "centos", revision: "-", maintainers: true, categories: distroCategories},
	{name: "guix", maintainers: false, categories: distroCategories},
	{name: "msys2", revision: "-", maintainers: true, categories: distroCategories},
	{name: "slackware", revision: "-", maintainers: true, categories: distroCategories},
}

// Syllables of generated names: 16 consonants × 4 vowels. Every name is a
// sequence of them, so a number written in base 64 with them is a unique,
// pronounceable name.
const (
	consonants = "bcdfghjklmnprstv"
	vowels     = "aeio"
)

// appendWord appends n written in base 64 with syllables, at least minSyl
// of them.
func appendWord(buf []byte, n uint64, minSyl int) []byte {
	var digits [12]byte
	d := 0
	for n > 0 || d < minSyl {
		digits[d] = byte(n % 64)
		n /= 64
		d++
	}
	for i := d - 1; i >= 0; i-- {
		buf = append(buf, consonants[digits[i]>>2], vowels[digits[i]&3])
	}
	return buf
}

var namePrefixes = []string{"lib", "python-", "perl-", "rust-", "go-", "node-", "r-", "ruby-"}

var subpackages = []string{"-dev", "-doc", "-data", "-common", "-utils", "-bin", "-tools", "-libs",
	"-plugins", "-extra", "-static", "-dbg", "-devel", "-tests", "-examples"}

var (
	adjectives = []string{"fast", "simple", "portable", "lightweight", "modern", "secure", "extensible", "minimal",
		"parallel", "robust", "tiny", "pure", "async", "generic", "flexible", "small"}
	nouns = []string{"parser", "library", "toolkit", "framework", "client", "server", "engine", "compiler",
		"editor", "viewer", "converter", "database", "scheduler", "monitor", "bindings", "daemon"}
	topics = []string{"JSON", "XML", "images", "audio", "HTTP", "SQL", "regular expressions", "fonts",
		"compression", "cryptography", "terminals", "Markdown", "YAML", "networking", "graphs", "archives"}
	hosts        = []string{"github.com", "gitlab.com", "codeberg.org", "bitbucket.org", "sr.ht"}
	emailDomains = []string{"debian.org", "gmail.com", "fedoraproject.org", "users.sourceforge.net",
		"freebsd.org", "example.org", "posteo.de", "protonmail.com", "gentoo.org", "archlinux.org"}
)

// builder makes packages, reusing a scratch buffer.
type builder struct{ scratch []byte }

func (b *builder) str() string { return string(b.scratch) }

// projectName is project id's name: a syllable word, sometimes with an
// ecosystem prefix. Unique per id.
func (b *builder) projectName(g *Generator, id int) string {
	b.scratch = b.scratch[:0]
	if h := g.hash(tagName, uint64(id), 0) % 100; h < 24 {
		b.scratch = append(b.scratch, namePrefixes[h%uint64(len(namePrefixes))]...)
	}
	b.scratch = appendWord(b.scratch, uint64(id), 2)
	return b.str()
}

// version is project id's version after step bumps from its base.
func (b *builder) version(g *Generator, id, step int) []byte {
	h := g.hash(tagVersion, uint64(id), 0)
	major := int([]uint64{0, 0, 1, 1, 1, 2, 2, 3, 4, 5, 7, 12}[h%12])
	minor := int(h >> 8 % 16)
	patch := int(h >> 16 % 21)
	twoPart := h>>24%100 < 15
	for s := 1; s <= step; s++ {
		switch x := g.hash(tagBump, uint64(id), uint64(s)) % 100; {
		case x < 75 && !twoPart:
			patch++
		case x < 95:
			minor, patch = minor+1, 0
		default:
			major, minor, patch = major+1, 0, 0
		}
	}
	v := strconv.AppendInt(b.scratch[:0], int64(major), 10)
	v = append(v, '.')
	v = strconv.AppendInt(v, int64(minor), 10)
	if !twoPart {
		v = append(v, '.')
		v = strconv.AppendInt(v, int64(patch), 10)
	}
	return v
}

// homepage is project id's homepage at a link epoch (a project moves).
func (b *builder) homepage(g *Generator, id int, name string, epoch int) (url string, vcs bool) {
	h := g.hash(tagHomepage, uint64(id), uint64(epoch))
	b.scratch = b.scratch[:0]
	switch h % 100 {
	case 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24:
		b.scratch = append(b.scratch, "https://"...)
		b.scratch = append(b.scratch, name...)
		b.scratch = append(b.scratch, []string{".org/", ".io/", ".dev/", ".net/"}[h>>8%4]...)
	case 25, 26, 27, 28, 29, 30, 31, 32, 33, 34:
		b.scratch = append(b.scratch, "https://"...)
		b.scratch = append(b.scratch, name...)
		b.scratch = append(b.scratch, ".sourceforge.net/"...)
	default:
		b.scratch = append(b.scratch, "https://"...)
		b.scratch = append(b.scratch, hosts[h>>8%uint64(len(hosts))]...)
		b.scratch = append(b.scratch, '/')
		b.scratch = appendWord(b.scratch, h>>16%(1<<20), 2)
		b.scratch = append(b.scratch, '/')
		b.scratch = append(b.scratch, name...)
		vcs = true
	}
	return b.str(), vcs
}

// maintainer returns the email and name of pool member m.
func (b *builder) maintainer(g *Generator, m int) events.Maintainer {
	h := g.hash(tagPerson, uint64(m), 0)
	b.scratch = appendWord(b.scratch[:0], uint64(m), 2)
	b.scratch = append(b.scratch, '@')
	b.scratch = append(b.scratch, emailDomains[h%uint64(len(emailDomains))]...)
	email := b.str()
	b.scratch = b.scratch[:0]
	first := len(b.scratch)
	b.scratch = appendWord(b.scratch, h>>8%4096, 2)
	b.scratch[first] -= 'a' - 'A'
	b.scratch = append(b.scratch, ' ')
	last := len(b.scratch)
	b.scratch = appendWord(b.scratch, uint64(m), 3)
	b.scratch[last] -= 'a' - 'A'
	return events.Maintainer{Email: email, Name: b.str()}
}

// pkg builds the sub-th package of packageset key (project id in repository
// r) in state s.
func (b *builder) pkg(g *Generator, id, r int, key uint64, sub int, s slotState) events.Package {
	f := g.repos[r].family
	project := b.projectName(g, id)
	p := events.Package{Project: project, Name: project}
	if sub > 0 {
		p.Name = project + subpackages[(sub-1)%len(subpackages)]
		if sub > len(subpackages) {
			p.Name += strconv.Itoa(sub / len(subpackages))
		}
	}

	// Repositories lag behind the project's latest version by a step or
	// two; a bump moves this repository one step on.
	latest := 2 + int(g.hash(tagLatest, uint64(id), 0)%6)
	lag := 0
	switch x := g.hash(tagLag, key, 0) % 100; {
	case x < 55:
	case x < 80:
		lag = 1
	case x < 92:
		lag = 2
	default:
		lag = 3 + int(x%3)
	}
	v := b.version(g, id, max(0, latest-lag)+s.bumps)
	if f.revision != "" {
		v = append(v, f.revision...)
		v = strconv.AppendInt(v, int64(1+g.hash(tagRevision, key, uint64(s.bumps))%3), 10)
	}
	p.Version = string(v)

	h := g.hash(tagSummary, uint64(id), 0)
	summary := strings.Join([]string{adjectives[h%16], nouns[h>>8%16], "for", topics[h>>16%16]}, " ")
	if sub > 0 {
		summary += " (" + strings.TrimPrefix(subpackages[(sub-1)%len(subpackages)], "-") + ")"
	}
	p.Summary = strings.ToUpper(summary[:1]) + summary[1:]
	p.Category = f.categories[g.hash(tagCategory, uint64(id), 0)%uint64(len(f.categories))]

	if f.maintainers {
		n := 1
		switch x := g.hash(tagMaintCount, key, uint64(s.maint)) % 10; {
		case x >= 9:
			n = 3
		case x >= 7:
			n = 2
		}
		for i := range n {
			rank := pick(g.maintCDF, unit(g.hash(tagMaint, key, uint64(s.maint)<<8|uint64(i))))
			p.Maintainers = append(p.Maintainers, b.maintainer(g, (rank+g.repos[r].offset)%g.cfg.Maintainers))
		}
	}

	if g.hash(tagHasHomepage, key, 0)%100 < 85 {
		url, vcs := b.homepage(g, id, project, s.linkEpoc)
		p.Links = append(p.Links, events.Link{Kind: "homepage", URL: url})
		if vcs && g.hash(tagHasVCS, key, 0)%100 < 40 {
			p.Links = append(p.Links, events.Link{Kind: "vcs-git", URL: url + ".git"})
		}
	}
	if f.page != "" {
		p.Links = append(p.Links, events.Link{Kind: "package", URL: f.page + p.Name})
	}
	p.Normalize()
	return p
}
