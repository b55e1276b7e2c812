package projections_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine running (a
// runner's router, dispatcher or watcher, a rebuild's readers).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// pgx's background health checks of pools closed by t.Cleanup.
		goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
	)
}
