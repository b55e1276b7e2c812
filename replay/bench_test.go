package replay_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/replay"
)

// benchLeader is a synthetic changelog of a few tens of thousands of
// events over several batches and repositories.
func benchLeader(b *testing.B) (*leader, int64) {
	b.Helper()
	l := newLeader(b)
	history(b, l, 3000)
	return l, l.head(b)
}

func reportEvents(b *testing.B, perOp int64) {
	b.ReportMetric(float64(perOp)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkTailToFile: `deltalog tail` of the whole changelog into a file.
func BenchmarkTailToFile(b *testing.B) {
	l, head := benchLeader(b)
	path := filepath.Join(b.TempDir(), "tail.jsonl")
	for b.Loop() {
		f, err := os.Create(path)
		require.NoError(b, err)
		w := bufio.NewWriterSize(f, 256<<10)
		require.NoError(b, replay.Tail(context.Background(), l.pool, w, replay.StreamParams{}))
		require.NoError(b, w.Flush())
		require.NoError(b, f.Close())
	}
	reportEvents(b, head)
}

// BenchmarkSSE: the whole changelog through GET /changelog/stream, decoded
// by the follower's SSE reader.
func BenchmarkSSE(b *testing.B) {
	l, head := benchLeader(b)
	_, base := httpServer(b, l.pool, replay.ServerConfig{CacheEvents: -1})
	for b.Loop() {
		resp, err := http.Get(fmt.Sprintf("%s/changelog/stream?until=%d", base, head))
		require.NoError(b, err)
		r := replay.NewSSEReader(resp.Body)
		n := int64(0)
		for n < head {
			m, err := r.Next()
			require.NoError(b, err)
			if m.Type == "event" {
				n++
			}
		}
		resp.Body.Close()
	}
	reportEvents(b, head)
}

// BenchmarkNATS: the whole changelog published to a fresh JetStream stream
// (an embedded server) by the replicator.
func BenchmarkNATS(b *testing.B) {
	l, head := benchLeader(b)
	url := natsServer(b)
	i := 0
	for b.Loop() {
		i++
		r, err := replay.NewReplicator(replay.ReplicatorConfig{DB: l.pool, URL: url, Until: head,
			Stream: fmt.Sprintf("BENCH%d", i), SubjectPrefix: fmt.Sprintf("bench%d", i)})
		require.NoError(b, err)
		require.NoError(b, r.Run(context.Background()))
	}
	reportEvents(b, head)
}
