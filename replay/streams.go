package replay

import (
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// FollowerUserAgent is the User-Agent a Follower's feed requests carry, so
// that the leader can tell its followers from other stream clients.
const FollowerUserAgent = "deltalog-follower"

// StreamInfo is one open GET /changelog/stream: who reads it and how far
// it got. The leader knows its followers only this way (a follower's own
// database is not the leader's to read).
type StreamInfo struct {
	Remote    string    `json:"remote"`
	UserAgent string    `json:"user_agent"`
	Follower  bool      `json:"follower"`
	Repo      string    `json:"repo,omitempty"`
	Since     time.Time `json:"since"`
	// Sent is the seq of the last event sent, or the stream's start.
	Sent int64 `json:"sent"`
}

// streamSet holds the open streams.
type streamSet struct {
	mu   sync.Mutex
	open map[*openStream]struct{}
}

type openStream struct {
	info StreamInfo
	sent atomic.Int64
}

func (s *streamSet) add(r *http.Request, after int64, repo string) *openStream {
	ua := r.UserAgent()
	o := &openStream{info: StreamInfo{Remote: r.RemoteAddr, UserAgent: ua, Follower: ua == FollowerUserAgent,
		Repo: repo, Since: time.Now()}}
	o.sent.Store(after)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open == nil {
		s.open = map[*openStream]struct{}{}
	}
	s.open[o] = struct{}{}
	return o
}

func (s *streamSet) remove(o *openStream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.open, o)
}

// list returns the open streams, oldest first.
func (s *streamSet) list() []StreamInfo {
	s.mu.Lock()
	out := make([]StreamInfo, 0, len(s.open))
	for o := range s.open {
		info := o.info
		info.Sent = o.sent.Load()
		out = append(out, info)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b StreamInfo) int { return a.Since.Compare(b.Since) })
	return out
}

// Streams returns the open changelog streams, oldest first: the followers
// (and other tail clients) reading from this server, with the seq each got
// to.
func (s *Server) Streams() []StreamInfo { return s.open.list() }
