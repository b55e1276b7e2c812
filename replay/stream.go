package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/deltalog/deltalog/changelog"
)

// Querier is the read side a pool, a connection and a transaction share.
type Querier = changelog.Querier

// StreamParams says what Stream reads.
type StreamParams struct {
	// After is the seq to start after (exclusive): streams resume from any seq.
	After int64
	// Limit stops the stream after this many events (0: no limit).
	Limit int64
	// Until stops the stream once it has covered this seq (0: no bound).
	// With Follow, the stream waits for the head to reach it.
	Until int64
	// Repo, when set, keeps only that repository's events.
	Repo string
	// Follow keeps streaming as the head moves, woken by Watcher.
	Follow  bool
	Watcher *changelog.Watcher
	// PageSize is the number of events read at once (default
	// changelog.MaxPage).
	PageSize int
	// ReadPageFunc reads one page; default ReadPage on the Querier given to
	// Stream. The HTTP server passes its cache here.
	ReadPageFunc func(ctx context.Context, p changelog.PageParams) (*changelog.Page, error)
	// HeartbeatFunc is called, in the caller's goroutine, every
	// HeartbeatInterval while a following stream waits for the head.
	HeartbeatFunc     func(ctx context.Context) error
	HeartbeatInterval time.Duration
}

func (p *StreamParams) validate() error {
	var errs []error
	if p.After < 0 || p.Limit < 0 || p.Until < 0 {
		errs = append(errs, errors.New("replay: After, Limit and Until must not be negative"))
	}
	if p.Follow && p.Watcher == nil {
		errs = append(errs, errors.New("replay: Follow needs a Watcher"))
	}
	if p.HeartbeatFunc != nil && p.HeartbeatInterval <= 0 {
		errs = append(errs, errors.New("replay: HeartbeatFunc needs a HeartbeatInterval"))
	}
	return errors.Join(errs...)
}

// Stream calls fn with consecutive, non-empty pages of the changelog after
// p.After, in seq order, until the head (or p.Until, or p.Limit events) is
// reached; with p.Follow it then waits for the head to move and goes on
// until ctx ends. The next page is read while fn handles the current one.
// fn must not keep the page after it returns.
func Stream(ctx context.Context, q Querier, p StreamParams, fn func(*changelog.Page) error) error {
	if err := p.validate(); err != nil {
		return err
	}
	if p.PageSize <= 0 || p.PageSize > changelog.MaxPage {
		p.PageSize = changelog.MaxPage
	}
	read := p.ReadPageFunc
	if read == nil {
		read = func(ctx context.Context, pp changelog.PageParams) (*changelog.Page, error) {
			return changelog.ReadPage(ctx, q, pp)
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	// A nil page is a heartbeat.
	pages := make(chan *changelog.Page, 1)
	g.Go(func() error {
		defer close(pages)
		head, err := changelog.Head(gctx, q)
		if err != nil {
			return err
		}
		if p.Watcher != nil {
			head = max(head, p.Watcher.Head())
		}
		after, sent := p.After, int64(0)
		for {
			upto := head
			if p.Until > 0 {
				upto = min(upto, p.Until)
			}
			for after < upto {
				n := p.PageSize
				if p.Limit > 0 {
					n = int(min(int64(n), p.Limit-sent))
				}
				page, err := read(gctx, changelog.PageParams{After: after, Upto: upto, Limit: n, Repo: p.Repo})
				if err != nil {
					return err
				}
				after = page.Next
				if len(page.Events) == 0 {
					continue
				}
				select {
				case pages <- page:
				case <-gctx.Done():
					return gctx.Err()
				}
				sent += int64(len(page.Events))
				if p.Limit > 0 && sent >= p.Limit {
					return nil
				}
			}
			if !p.Follow || (p.Until > 0 && after >= p.Until) {
				return nil
			}
			if head, err = wait(gctx, p, after, pages); err != nil {
				return err
			}
		}
	})
	g.Go(func() error {
		for page := range pages {
			var err error
			if page == nil {
				err = p.HeartbeatFunc(gctx)
			} else {
				err = fn(page)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return g.Wait()
}

// wait blocks until the head moves beyond after, sending heartbeats.
func wait(ctx context.Context, p StreamParams, after int64, pages chan<- *changelog.Page) (int64, error) {
	for {
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if p.HeartbeatFunc != nil {
			wctx, cancel = context.WithTimeout(ctx, p.HeartbeatInterval)
		}
		head, err := p.Watcher.Wait(wctx, after)
		cancel()
		if err == nil {
			return head, nil
		}
		if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return 0, err
		}
		select {
		case pages <- nil:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Tail writes the changelog as JSON lines, one event per line, to w. The
// last event of a batch carries batch_end with the state checksums after
// it.
func Tail(ctx context.Context, q Querier, w io.Writer, p StreamParams) error {
	enc := json.NewEncoder(w)
	flusher, _ := w.(interface{ Flush() error })
	return Stream(ctx, q, p, func(page *changelog.Page) error {
		for i := range page.Events {
			if err := enc.Encode(&page.Events[i]); err != nil {
				return fmt.Errorf("tail: %w", err)
			}
		}
		if flusher != nil && p.Follow {
			return flusher.Flush()
		}
		return nil
	})
}
