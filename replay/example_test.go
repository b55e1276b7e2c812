package replay_test

import (
	"fmt"

	"github.com/deltalog/deltalog/replay"
)

// Each repository's pages go to a subject of their own, so that a consumer
// subscribes to the repositories it wants; bytes a subject token cannot
// hold are escaped.
func ExampleSubject() {
	fmt.Println(replay.Subject(replay.DefaultSubjectPrefix, "debian_12"))
	fmt.Println(replay.Subject(replay.DefaultSubjectPrefix, "npm.js registry*"))
	// Output:
	// deltalog.changelog.debian_12
	// deltalog.changelog.npm%2Ejs%20registry%2A
}
