package replay

import (
	"container/list"
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/deltalog/deltalog/changelog"
)

// pageCache keeps recently read pages. A page is final (its range ends at a
// head read before), so a cached page is never stale; concurrent reads of
// the same page — many streams woken by one append — share one query.
type pageCache struct {
	max   int // events
	read  func(ctx context.Context, p changelog.PageParams) (*changelog.Page, error)
	group singleflight.Group

	mu     sync.Mutex
	size   int
	lru    *list.List // of *cacheEntry, most recent first
	byKey  map[changelog.PageParams]*list.Element
	hits   func()
	misses func()
}

type cacheEntry struct {
	key  changelog.PageParams
	page *changelog.Page
}

func newPageCache(maxEvents int, read func(context.Context, changelog.PageParams) (*changelog.Page, error), hits, misses func()) *pageCache {
	return &pageCache{max: maxEvents, read: read, lru: list.New(), byKey: map[changelog.PageParams]*list.Element{}, hits: hits, misses: misses}
}

// get returns the page for p, which must have Upto set. The page is shared:
// callers must not modify it.
func (c *pageCache) get(ctx context.Context, p changelog.PageParams) (*changelog.Page, error) {
	if c.max <= 0 || p.Upto <= 0 {
		return c.read(ctx, p)
	}
	c.mu.Lock()
	if el, ok := c.byKey[p]; ok {
		c.lru.MoveToFront(el)
		c.mu.Unlock()
		c.hits()
		return el.Value.(*cacheEntry).page, nil
	}
	c.mu.Unlock()
	c.misses()
	v, err, _ := c.group.Do(fmt.Sprint(p), func() (any, error) {
		// The query must not die with the first caller's request.
		page, err := c.read(context.WithoutCancel(ctx), p)
		if err != nil {
			return nil, err
		}
		c.add(p, page)
		return page, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*changelog.Page), nil
}

func (c *pageCache) add(p changelog.PageParams, page *changelog.Page) {
	n := len(page.Events) + 1
	if n > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[p]; ok {
		return
	}
	c.byKey[p] = c.lru.PushFront(&cacheEntry{key: p, page: page})
	c.size += n
	for c.size > c.max {
		el := c.lru.Back()
		e := el.Value.(*cacheEntry)
		c.lru.Remove(el)
		delete(c.byKey, e.key)
		c.size -= len(e.page.Events) + 1
	}
}
