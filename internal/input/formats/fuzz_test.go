package formats

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/deltalog/deltalog/events"
)

// checkPackage is what every emitted package must satisfy, whatever the
// input: what the database stores without a raw error (UTF-8 without NUL
// bytes, names it can index) included.
func checkPackage(p events.Package) error {
	if p.Name == "" || p.Version == "" || p.Project == "" {
		return fmt.Errorf("empty identity: %+v", p)
	}
	for _, s := range []string{p.Project, p.Name, p.Version, p.Category} {
		if len(s) > MaxNameSize {
			return fmt.Errorf("name of %d bytes: %.80q", len(s), s)
		}
	}
	for _, m := range p.Maintainers {
		if len(m.Email) > MaxNameSize || len(m.Name) > MaxNameSize {
			return fmt.Errorf("maintainer of %d bytes: %.80q", len(m.Email)+len(m.Name), m.Email)
		}
	}
	for _, l := range p.Links {
		if len(l.URL) > MaxURLSize {
			return fmt.Errorf("URL of %d bytes: %.80q", len(l.URL), l.URL)
		}
	}
	strs := []string{p.Project, p.Name, p.Version, p.Summary, p.Category}
	for _, m := range p.Maintainers {
		if m.Email == "" {
			return fmt.Errorf("maintainer without email: %+v", p)
		}
		strs = append(strs, m.Email, m.Name)
	}
	for _, l := range p.Links {
		if l.Kind == "" || l.URL == "" {
			return fmt.Errorf("empty link: %+v", p)
		}
		strs = append(strs, l.Kind, l.URL)
	}
	for k, v := range p.Extra {
		strs = append(strs, k, v)
	}
	for _, s := range strs {
		if !utf8.ValidString(s) {
			return fmt.Errorf("invalid UTF-8 %q in %+v", s, p)
		}
		if strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("NUL byte in %q of %+v", s, p)
		}
	}
	return nil
}

func fuzzParse(t *testing.T, data []byte, f Format) {
	stats, err := Parse(bytes.NewReader(data), "fuzz", f, func(p events.Package) error {
		if err := checkPackage(p); err != nil {
			t.Fatal(err)
		}
		return nil
	})
	if err != nil {
		if _, ok := err.(*ParseError); !ok {
			t.Fatalf("error is %T, not *ParseError: %v", err, err)
		}
	}
	if stats.Packages < 0 || stats.Skipped < 0 || len(stats.SkippedLines) > maxSkippedLines {
		t.Fatalf("bad stats %+v", stats)
	}
}

// stanzas splits deb822 text into its first n stanzas.
func stanzas(data []byte, n int) [][]byte {
	parts := bytes.Split(data, []byte("\n\n"))
	return parts[:min(n, len(parts))]
}

func FuzzParseDeb822(f *testing.F) {
	for _, name := range []string{"bookworm-updates-main-Sources.xz", "bookworm-main-Packages-amd64.gz"} {
		data := readFixture(f, name)
		for _, s := range stanzas(data, 8) {
			f.Add(append(s, '\n'), strings.Contains(name, "Packages"))
		}
	}
	f.Add([]byte("Package: a\nVersion: 1\nMaintainer: \"A, B\" <a@b>, C <C@D> E <e@f>,\nVcs-Git: x -b y\n"), false)
	f.Add([]byte("Package: a\nSource: b (1)\nVersion: 1\nDescription: x\n y\n .\n"), true)
	f.Add([]byte("Package: a\nVersion: 1\nMaintainer: A <a@b\x00>\n"), false)
	f.Add([]byte("Package: a\nVersion: 1\nDescription: x\n \x00\n"), true)
	f.Add([]byte("Package: "+strings.Repeat("a", MaxNameSize+1)+"\nVersion: 1\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, binary bool) {
		format := DebianSources
		if binary {
			format = DebianPackages
		}
		fuzzParse(t, data, format)
	})
}

func FuzzParseTSV(f *testing.F) {
	for _, name := range []string{"npm.tsv", "pypi.tsv"} {
		lines := bytes.SplitAfter(readFixture(f, name), []byte("\n"))
		f.Add(bytes.Join(lines[:4], nil))
		f.Add(bytes.Join(append([][]byte{lines[0]}, lines[39:42]...), nil))
	}
	f.Add([]byte("version\tname\n1\tFoo..Bar__\n"))
	f.Add([]byte("name\tversion\tsummary\na\x00b\t1\tc\n"))
	f.Add([]byte("name\tversion\tx\x00\na\t1\tc\n"))
	f.Add([]byte("name\tversion\na\t" + strings.Repeat("1", MaxNameSize+1) + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzParse(t, data, TSV)
	})
}

func FuzzParseJSONL(f *testing.F) {
	for _, line := range bytes.Split(readFixture(f, "packages.jsonl"), []byte("\n")) {
		f.Add(line)
	}
	f.Add([]byte(`{"name":"a","version":"1","maintainers":[{"email":"A@\u00c4"}],"links":[{"kind":"k","url":"u"}],"extra":{"":""}}`))
	f.Add([]byte(`{"name":"a\u0000","version":"1"}`))
	f.Add([]byte(`{"name":"a","version":"1","maintainers":[{"email":"a@b","name":"\u0000"}],"extra":{"k\u0000":"v"}}`))
	f.Add([]byte(`{"name":"a","version":"1","links":[{"kind":"homepage","url":"https://` + strings.Repeat("x", MaxURLSize) + `"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzParse(t, data, JSONL)
	})
}

// FuzzParseMaintainers checks the splitter alone: no panic, and every
// entry it returns has an email with an "@".
func FuzzParseMaintainers(f *testing.F) {
	f.Add(`"Adam C. Powell, IV" <hazelsct@debian.org>, Andreas Tille <tille@debian.org>,`)
	f.Add(`Eugenio Cano-Manuel Mendoza <eugeniocanom@gmail.com> Thomas Goirand <zigo@debian.org>`)
	f.Add(`"Esc \"aped\"" <e@x.org>, bare@x.org (Name)`)
	f.Fuzz(func(t *testing.T, v string) {
		in := interner{}
		var scratch []byte
		ms, err := parseMaintainers([]byte(v), nil, &in, &scratch)
		if err != nil {
			return
		}
		for _, m := range ms {
			if !strings.Contains(m.Email, "@") || m.Email != strings.ToLower(m.Email) && utf8.ValidString(m.Email) {
				t.Fatalf("bad email %q from %q", m.Email, v)
			}
		}
	})
}

// FuzzDecompressXZ compares the pure-Go xz decoder (with its footer guard)
// with the xz program: whatever the pure-Go side accepts, xz must accept
// too, with the same output. The pure-Go side may reject more (it lacks
// the BCJ filters). This is how the silent empty read of
// github.com/ulikunitz/xz on input cut after the stream header was found;
// that input is in testdata/fuzz/FuzzDecompressXZ.
func FuzzDecompressXZ(f *testing.F) {
	raw := mustRead(f, fixture("bookworm-updates-main-Sources.xz"))
	f.Add(raw)
	f.Add(raw[:len(raw)-8])
	xzBin := xzBinary()
	if xzBin == "" {
		f.Skip("no xz program to compare with")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		goOut, goErr := decompressBytes(t, data, "fuzz", "")
		binOut, binErr := decompressBytes(t, data, "fuzz", xzBin)
		if goErr != nil {
			if _, ok := goErr.(*ParseError); !ok {
				t.Fatalf("error is %T, not *ParseError: %v", goErr, goErr)
			}
			return
		}
		if binErr != nil {
			t.Fatalf("pure Go read %d bytes without error, xz says: %v", len(goOut), binErr)
		}
		if !bytes.Equal(goOut, binOut) {
			t.Fatalf("outputs differ: pure Go %d bytes, xz %d bytes", len(goOut), len(binOut))
		}
	})
}
