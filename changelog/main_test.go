package changelog_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine (a Watcher's loop, a
// pool's) outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// pgx's background health checks of pools closed at cleanup.
		goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
	)
}
