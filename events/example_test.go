package events_test

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/deltalog/deltalog/events"
)

// Normalize puts a package's lists in canonical order, so that equal content
// is equal data whatever order a snapshot listed it in.
func ExamplePackage_Normalize() {
	p := events.Package{
		Project: "hello", Name: "hello", Version: "2.12-1",
		Maintainers: []events.Maintainer{
			{Email: "santiago@debian.org", Name: "Santiago Vila"},
			{Email: "ada@example.org", Name: "Ada"},
			{Email: "santiago@debian.org", Name: "Santiago Vila"},
		},
		Links: []events.Link{{Kind: "vcs-git", URL: "https://salsa.debian.org/hello.git"}, {Kind: "homepage", URL: "https://www.gnu.org/software/hello/"}},
	}
	p.Normalize()
	for _, m := range p.Maintainers {
		fmt.Println(m.Email)
	}
	for _, l := range p.Links {
		fmt.Println(l.Kind)
	}
	// Output:
	// ada@example.org
	// santiago@debian.org
	// homepage
	// vcs-git
}

// An event as the changelog's readers get it (tail, the HTTP API, NATS):
// the packages removed and added, and on the last event of a batch the
// state checksums after it.
func ExampleEvent() {
	ev := events.Event{
		Seq: 42, Batch: 7, Repo: "debian_12", Project: "hello", Kind: events.KindChanged,
		OldChecksum: "1f2e3d4c5b6a7988", NewChecksum: "8879a6b5c4d3e2f1",
		Removed:  []events.Package{{Project: "hello", Name: "hello", Version: "2.10-3"}},
		Added:    []events.Package{{Project: "hello", Name: "hello", Version: "2.12-1"}},
		BatchEnd: &events.BatchEnd{RepoStateChecksum: "544b813c816dbb40", GlobalStateChecksum: "d0234f9f36569993"},
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(ev); err != nil {
		fmt.Println(err)
	}
	fmt.Println(ev.Kind.Valid(), events.Kind("renamed").Valid())
	// Output:
	// {
	//   "seq": 42,
	//   "batch": 7,
	//   "repo": "debian_12",
	//   "project": "hello",
	//   "kind": "changed",
	//   "old_checksum": "1f2e3d4c5b6a7988",
	//   "new_checksum": "8879a6b5c4d3e2f1",
	//   "removed": [
	//     {
	//       "project": "hello",
	//       "name": "hello",
	//       "version": "2.10-3"
	//     }
	//   ],
	//   "added": [
	//     {
	//       "project": "hello",
	//       "name": "hello",
	//       "version": "2.12-1"
	//     }
	//   ],
	//   "batch_end": {
	//     "repo_state_checksum": "544b813c816dbb40",
	//     "global_state_checksum": "d0234f9f36569993"
	//   }
	// }
	// true false
}
