package formats

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hugeJSONL writes a JSONL file of about size bytes, gzipped or plain, whose
// line 2 is malformed and all the rest valid. Names are random, so that
// gzip barely shrinks it: its compressed size measures how far it was read.
func hugeJSONL(t *testing.T, path string, size int, gz bool) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	var w io.Writer = f
	if gz {
		zw, err := gzip.NewWriterLevel(f, gzip.BestSpeed)
		require.NoError(t, err)
		defer func() { require.NoError(t, zw.Close()) }()
		w = zw
	}
	rng := rand.New(rand.NewPCG(1, 2))
	_, err = fmt.Fprintf(w, "{\"name\":\"a\",\"version\":\"1\"}\n{\"name\":\"b\",\"version\":\n")
	require.NoError(t, err)
	for n := 0; n < size; {
		k, err := fmt.Fprintf(w, "{\"name\":\"p%016x%016x\",\"version\":\"%d\"}\n", rng.Uint64(), rng.Uint64(), rng.IntN(1000))
		require.NoError(t, err)
		n += k
	}
}

// TestEarlyErrorReadsLittle: a parse error early in a large file is
// reported having read a small part of it — plain input not at all past
// the parser's buffer, compressed input at most maxTrailingRead past the
// error, to give the decoder its word — not the whole file.
func TestEarlyErrorReadsLittle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const size = 48 << 20
	for _, gz := range []bool{false, true} {
		path := filepath.Join(dir, fmt.Sprintf("huge-gz-%v.jsonl", gz))
		hugeJSONL(t, path, size, gz)
		var done, total int64
		_, err := ReadSnapshot(t.Context(), JSONL, []string{path},
			WithProgress(func(d, tot int64) { done, total = d, tot }))
		requireParseError(t, err, path, 2, "", ErrMalformed)
		require.Positive(t, done)
		require.Less(t, done, total/4, "gz %v: read %d of %d bytes", gz, done, total)
	}
}

// TestEndlessInput: input that never ends neither hides a parse error
// (/dev/zero: the oversized first line is reported, not drained) nor
// outlives its context (a FIFO whose writer stalls, and one that keeps
// writing valid lines).
func TestEndlessInput(t *testing.T) {
	t.Parallel()
	within := func(t *testing.T, what string, fn func() error) error {
		t.Helper()
		errc := make(chan error, 1)
		go func() { errc <- fn() }()
		select {
		case err := <-errc:
			return err
		case <-time.After(time.Minute):
			t.Fatalf("%s: still reading after a minute", what)
			return nil
		}
	}
	for _, f := range Formats() {
		err := within(t, "/dev/zero", func() error {
			_, err := ReadSnapshot(t.Context(), f, []string{"/dev/zero"}, WithVersionScheme("generic"))
			return err
		})

		requireParseError(t, err, "/dev/zero", 1, "", ErrNULByte)
	}

	for _, stall := range []bool{true, false} {
		fifo := filepath.Join(t.TempDir(), "fifo")
		require.NoError(t, syscall.Mkfifo(fifo, 0o600))
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() {
			_, err := ReadSnapshot(ctx, JSONL, []string{fifo})
			errc <- err
		}()
		// Opening the write end returns once the reader has opened it.
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = io.WriteString(w, "{\"name\":\"a\",\"version\":\"1\"}\n")
		require.NoError(t, err)
		stop := make(chan struct{})
		if !stall {
			go func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := fmt.Fprintf(w, "{\"name\":\"p%d\",\"version\":\"1\"}\n", i); err != nil {
						return
					}
				}
			}()
		}
		cancel()
		err = within(t, fmt.Sprintf("fifo (stalled %v)", stall), func() error { return <-errc })
		close(stop)
		require.ErrorIs(t, err, context.Canceled, "stalled %v", stall)
		require.NoError(t, w.Close())
	}
}
