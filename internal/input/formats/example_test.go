package formats_test

import (
	"fmt"
	"strings"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/formats"
)

func ExampleParse() {
	// A stanza of bookworm's Packages index, shortened.
	const index = `Package: 0ad-data-common
Source: 0ad-data
Version: 0.0.26-1
Maintainer: Debian Games Team <pkg-games-devel@lists.alioth.debian.org>
Architecture: all
Description: Real-time strategy game of ancient warfare (common data files)
Homepage: https://play0ad.com/
Section: games
`
	stats, err := formats.Parse(strings.NewReader(index), "Packages", formats.DebianPackages, func(p events.Package) error {
		fmt.Printf("%s %s (project %s, %s)\n", p.Name, p.Version, p.Project, p.Extra["architecture"])
		fmt.Println(p.Summary)
		fmt.Println(p.Maintainers[0].Email, p.Links[0].URL)
		return nil
	})
	fmt.Println(stats.Packages, err)
	// Output:
	// 0ad-data-common 0.0.26-1 (project 0ad-data, all)
	// Real-time strategy game of ancient warfare (common data files)
	// pkg-games-devel@lists.alioth.debian.org https://play0ad.com/
	// 1 <nil>
}

func ExampleParse_tsv() {
	const list = "name\tversion\tdownloads_a_month\tsummary\n" +
		"0x.js\t9.2.0\t1834\tA javascript library for interacting with the 0x protocol\n"
	_, err := formats.Parse(strings.NewReader(list), "npm.tsv", formats.TSV, func(p events.Package) error {
		fmt.Println(p.Project, p.Name, p.Version, p.Extra)
		return nil
	})
	fmt.Println(err)
	// Output:
	// 0x-js 0x.js 9.2.0 map[downloads_a_month:1834]
	// <nil>
}

func ExampleParseError() {
	const stanza = "Package: 0xffff\n" +
		"Maintainer: Sebastian Reichel <sre@debian.org>\n"
	_, err := formats.Parse(strings.NewReader(stanza), "Sources", formats.DebianSources, func(events.Package) error { return nil })
	fmt.Println(err)
	// Output:
	// Sources:1: field "Version": missing required field
}
