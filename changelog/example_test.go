package changelog_test

import (
	"encoding/json"
	"fmt"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
)

// A page as ReadPage returns it and the HTTP API serves it: the events of a
// seq range, each batch's record once, and where to continue.
func ExamplePage() {
	page := changelog.Page{
		After: 40, Next: 43, Head: 50,
		Events: []events.Event{
			{Seq: 41, Batch: 6, Repo: "debian_12", Project: "bash", Kind: events.KindChanged},
			{Seq: 42, Batch: 7, Repo: "debian_13", Project: "hello", Kind: events.KindAdded},
			{Seq: 43, Batch: 7, Repo: "debian_13", Project: "zlib", Kind: events.KindAdded,
				BatchEnd: &events.BatchEnd{RepoStateChecksum: "544b813c816dbb40", GlobalStateChecksum: "d0234f9f36569993"}},
		},
		Batches: []events.Batch{
			{ID: 6, Repo: "debian_12", FirstSeq: 30, LastSeq: 41, VersionScheme: "debian"},
			{ID: 7, Repo: "debian_13", FirstSeq: 42, LastSeq: 43, VersionScheme: "debian"},
		},
	}
	for _, ev := range page.Events {
		b := page.Batch(ev.Batch)
		fmt.Printf("%d %s %s/%s (batch %d: %d..%d) end=%v\n", ev.Seq, ev.Kind, ev.Repo, ev.Project,
			b.ID, b.FirstSeq, b.LastSeq, ev.BatchEnd != nil)
	}
	fmt.Println(page.Batch(8) == nil)

	// A reader continues after Next, here until Head.
	wire, _ := json.Marshal(page)
	var back changelog.Page
	if err := json.Unmarshal(wire, &back); err != nil {
		fmt.Println(err)
	}
	fmt.Println(back.After, back.Next, back.Head, len(back.Events), back.Batches[1].VersionScheme)
	// Output:
	// 41 changed debian_12/bash (batch 6: 30..41) end=false
	// 42 added debian_13/hello (batch 7: 42..43) end=false
	// 43 added debian_13/zlib (batch 7: 42..43) end=true
	// true
	// 40 43 50 3 debian
}

// RowsParams are the row writes Store.WriteRows applies; the count feeds
// the StateAnalyzer after commit.
func ExampleRowsParams() {
	p := changelog.RowsParams{
		RepoID:         1,
		Scheme:         "debian",
		DeletePackages: []changelog.PackageKey{{Project: "hello", Key: 0x1f2e3d4c5b6a7988}},
		InsertPackages: []changelog.PackageRow{{Key: 0x8879a6b5c4d3e2f1,
			Package: &events.Package{Project: "hello", Name: "hello", Version: "2.12-1"}}},
		UpdateSets: []changelog.SetRow{{Project: "hello", Sum: 0x0102030405060708, Packages: 1}},
	}
	fmt.Println(p.Rows(), "rows")
	// Output: 3 rows
}
