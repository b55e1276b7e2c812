package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/pg/database"
)

const (
	// DefaultStream is the JetStream stream the changelog is replicated to.
	DefaultStream = "DELTALOG"
	// DefaultSubjectPrefix is the prefix of the per-repository subjects:
	// deltalog.changelog.<repository>.
	DefaultSubjectPrefix = "deltalog.changelog"

	// Headers of every message (besides Nats-Msg-Id, the last seq).
	HeaderFirstSeq = "Deltalog-First-Seq"
	HeaderLastSeq  = "Deltalog-Last-Seq"
	HeaderRepo     = "Deltalog-Repo"
	HeaderBatch    = "Deltalog-Batch"
)

// ReplicatorConfig configures a Replicator.
type ReplicatorConfig struct {
	// DB is the leader's database (required).
	DB *pgxpool.Pool
	// URL is the NATS server (required), nats://HOST:PORT.
	URL string
	// Stream is the JetStream stream, created if missing (default
	// DefaultStream). Its subjects are SubjectPrefix.>.
	Stream        string
	SubjectPrefix string
	// PageEvents and PageBytes bound one message (defaults 1000 events,
	// 512 KiB; NATS refuses messages over its max_payload, 1 MiB by default).
	PageEvents int
	PageBytes  int
	// DuplicateWindow is the stream's de-duplication window (default 2m).
	DuplicateWindow time.Duration
	// Until stops the replicator once it has published through this seq
	// (0: follow the changelog until ctx ends).
	Until int64
	// NATSOptions are passed to nats.Connect.
	NATSOptions []nats.Option
	Logger      *slog.Logger
}

func (c ReplicatorConfig) withDefaults() ReplicatorConfig {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.PageEvents <= 0 {
		c.PageEvents = 1000
	}
	if c.PageBytes <= 0 {
		c.PageBytes = 512 << 10
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c ReplicatorConfig) validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("replay: ReplicatorConfig.DB is required"))
	}
	if !strings.HasPrefix(c.URL, "nats://") {
		errs = append(errs, fmt.Errorf("replay: ReplicatorConfig.URL %q: want nats://HOST:PORT", c.URL))
	}
	if c.Until < 0 {
		errs = append(errs, errors.New("replay: ReplicatorConfig.Until must not be negative"))
	}
	if strings.ContainsAny(c.SubjectPrefix, " *>") || strings.HasSuffix(c.SubjectPrefix, ".") {
		errs = append(errs, fmt.Errorf("replay: ReplicatorConfig.SubjectPrefix %q is not a subject prefix", c.SubjectPrefix))
	}
	return errors.Join(errs...)
}

// Replicator publishes the changelog to a JetStream stream.
type Replicator struct {
	cfg ReplicatorConfig
}

// NewReplicator checks cfg and returns a Replicator.
func NewReplicator(cfg ReplicatorConfig) (*Replicator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Replicator{cfg: cfg}, nil
}

// errResync says the stream is not where the replicator thought: read its
// position again.
var errResync = errors.New("stream position changed")

// Run replicates until ctx ends, Until is reached or an error occurs. A
// lost database is waited out ("waiting for the database", with capped
// exponential backoff): the replicator then resumes from the stream's last
// message, so that every seq is in the stream exactly once.
func (r *Replicator) Run(ctx context.Context) error {
	cfg := r.cfg
	nc, err := nats.Connect(cfg.URL, append([]nats.Option{nats.Name("deltalog replicate")}, cfg.NATSOptions...)...)
	if err != nil {
		return fmt.Errorf("replicate: connecting to %s: %w", cfg.URL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("replicate: %w", err)
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "deltalog changelog pages",
		Subjects:    []string{cfg.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  cfg.DuplicateWindow,
	})
	if err != nil {
		return fmt.Errorf("replicate: stream %s: %w", cfg.Stream, err)
	}
	pub, err := wmnats.NewPublisherWithNatsConn(nc, wmnats.PublisherPublishConfig{
		Marshaler:         &wmnats.NATSMarshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		JetStream:         wmnats.JetStreamConfig{TrackMsgId: true},
	}, watermill.NewSlogLogger(cfg.Logger))
	if err != nil {
		return fmt.Errorf("replicate: %w", err)
	}
	// pub.Close would close nc, which the deferred nc.Close does.

	var watcher *changelog.Watcher
	defer func() {
		if watcher != nil {
			watcher.Close()
		}
	}()
	b := &database.Backoff{Who: "replicator", Logger: cfg.Logger}
	for {
		err := r.pass(ctx, stream, pub, &watcher, b)
		switch {
		case errors.Is(err, errResync):
			cfg.Logger.WarnContext(ctx, "replicate: the stream moved under us; reading its position again", "error", err)
		case database.Unreachable(err) && ctx.Err() == nil:
			// The next pass starts from the stream's position again.
			if err := b.Wait(ctx, err); err != nil {
				return fmt.Errorf("replicate: %w", err)
			}
		case err != nil:
			return fmt.Errorf("replicate: %w", err)
		default:
			return nil
		}
	}
}

// pass replicates from the stream's position on, until Until, the end of
// ctx or an error.
func (r *Replicator) pass(ctx context.Context, stream jetstream.Stream, pub message.Publisher,
	watcher **changelog.Watcher, b *database.Backoff) error {
	cfg := r.cfg
	pos, err := streamPosition(ctx, stream)
	if err != nil {
		return err
	}
	head, err := changelog.Head(ctx, cfg.DB)
	if err != nil {
		return err
	}
	b.Reset(ctx)
	if pos.seq > head {
		return fmt.Errorf("%w: stream %s holds seq %d, the changelog's head is %d", ErrStreamAhead, cfg.Stream, pos.seq, head)
	}
	cfg.Logger.InfoContext(ctx, "replicating", "stream", cfg.Stream, "after", pos.seq, "head", head)
	if cfg.Until > 0 && pos.seq >= cfg.Until {
		return nil
	}
	if *watcher == nil {
		if *watcher, err = changelog.NewWatcher(ctx, changelog.WatcherConfig{DB: cfg.DB, Logger: cfg.Logger}); err != nil {
			return err
		}
	}
	return Stream(ctx, cfg.DB, StreamParams{After: pos.seq, Until: cfg.Until, Follow: true, Watcher: *watcher},
		func(page *changelog.Page) error { return r.publishPage(page, pub, &pos) })
}

// position is where the stream is: the last changelog seq it holds and the
// stream sequence of its last message.
type position struct {
	seq       int64
	streamSeq uint64
}

// streamPosition reads the position from the stream's last message.
func streamPosition(ctx context.Context, stream jetstream.Stream) (position, error) {
	info, err := stream.Info(ctx)
	if err != nil {
		return position{}, fmt.Errorf("stream info: %w", err)
	}
	if info.State.Msgs == 0 {
		return position{streamSeq: info.State.LastSeq}, nil
	}
	msg, err := stream.GetMsg(ctx, info.State.LastSeq)
	if err != nil {
		return position{}, fmt.Errorf("reading the stream's last message %d: %w", info.State.LastSeq, err)
	}
	last, err := strconv.ParseInt(msg.Header.Get(HeaderLastSeq), 10, 64)
	if err != nil {
		return position{}, fmt.Errorf("%w: stream message %d has no %s header", ErrBadFeed, msg.Sequence, HeaderLastSeq)
	}
	return position{seq: last, streamSeq: msg.Sequence}, nil
}

// publishPage splits a page into messages of one batch each, within the
// size bounds, and publishes them in order.
func (r *Replicator) publishPage(page *changelog.Page, pub message.Publisher, pos *position) error {
	cfg := r.cfg
	var (
		start int
		size  int
	)
	enc := make([][]byte, len(page.Events))
	for i := range page.Events {
		b, err := json.Marshal(&page.Events[i])
		if err != nil {
			return err
		}
		enc[i] = b
	}
	for i := range page.Events {
		size += len(enc[i]) + 1
		last := i == len(page.Events)-1 || page.Events[i+1].Batch != page.Events[i].Batch ||
			i+1-start >= cfg.PageEvents || size+len(enc[i+1]) > cfg.PageBytes
		if !last {
			continue
		}
		if err := r.publish(page, page.Events[start:i+1], enc[start:i+1], pub, pos); err != nil {
			return err
		}
		start, size = i+1, 0
	}
	return nil
}

func (r *Replicator) publish(page *changelog.Page, evs []events.Event, enc [][]byte, pub message.Publisher, pos *position) error {
	first, last := &evs[0], &evs[len(evs)-1]
	if first.Seq <= pos.seq {
		return nil // already in the stream
	}
	batch := page.Batch(first.Batch)
	if batch == nil {
		return fmt.Errorf("no batch record for batch %d", first.Batch)
	}
	bjson, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	// {"events":[…],"batches":[batch],"after":…,"next":…,"head":…}, built
	// from the events already encoded.
	payload := make([]byte, 0, len(bjson)+128+len(enc)*(len(enc[0])+1))
	payload = append(payload, `{"events":[`...)
	for i, e := range enc {
		if i > 0 {
			payload = append(payload, ',')
		}
		payload = append(payload, e...)
	}
	payload = append(payload, `],"batches":[`...)
	payload = append(payload, bjson...)
	payload = fmt.Appendf(payload, `],"after":%d,"next":%d,"head":%d}`, first.Seq-1, last.Seq, page.Head)

	msg := message.NewMessage(seqID(last.Seq), payload)
	msg.Metadata.Set(HeaderFirstSeq, seqID(first.Seq))
	msg.Metadata.Set(HeaderLastSeq, seqID(last.Seq))
	msg.Metadata.Set(HeaderRepo, first.Repo)
	msg.Metadata.Set(HeaderBatch, seqID(first.Batch))
	// The stream must end where we think it does: a message published by a
	// predecessor that was killed mid-publish, or by a second replicator,
	// makes the server refuse this one instead of storing it twice.
	msg.Metadata.Set(nats.ExpectedLastSeqHdr, strconv.FormatUint(pos.streamSeq, 10))
	if err := pub.Publish(Subject(r.cfg.SubjectPrefix, first.Repo), msg); err != nil {
		var apiErr nats.JetStreamError
		if errors.As(err, &apiErr) && apiErr.APIError() != nil &&
			(apiErr.APIError().ErrorCode == nats.JSErrCodeStreamWrongLastSequence ||
				apiErr.APIError().ErrorCode == nats.JSErrCodeStreamWrongLastSequenceConstant) {
			return fmt.Errorf("%w: %w", errResync, err)
		}
		return fmt.Errorf("publishing seqs %d..%d: %w", first.Seq, last.Seq, err)
	}
	pos.seq, pos.streamSeq = last.Seq, pos.streamSeq+1
	return nil
}

// Subject is the NATS subject of a repository's changelog pages:
// prefix.<repository>, with bytes a subject token cannot hold ('.', '*',
// '>', '%', spaces, control and non-ASCII bytes) escaped as %XX.
func Subject(prefix, repo string) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteByte('.')
	for i := 0; i < len(repo); i++ {
		c := repo[i]
		if c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>' || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// natsFeed reads the stream with an ordered consumer, starting at the
// first message holding seqs after the follower's head.
type natsFeed struct {
	nc   *nats.Conn
	msgs jetstream.MessagesContext
}

func openNATSFeed(ctx context.Context, cfg FollowerConfig, after int64) (*natsFeed, error) {
	nc, err := nats.Connect(cfg.From, nats.Name("deltalog follow"))
	if err != nil {
		return nil, fmt.Errorf("follower: connecting to %s: %w", cfg.From, err)
	}
	f := &natsFeed{nc: nc}
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		err := f.open(ctx, cfg.Stream, after)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			nc.Close()
			return nil, fmt.Errorf("follower: %w", err)
		}
		// The replicator creates the stream: wait for it.
		cfg.Logger.WarnContext(ctx, "follower: waiting for the stream", "stream", cfg.Stream, "error", err)
		select {
		case <-ctx.Done():
			nc.Close()
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
	}
}

func (f *natsFeed) open(ctx context.Context, name string, after int64) error {
	js, err := jetstream.New(f.nc)
	if err != nil {
		return err
	}
	stream, err := js.Stream(ctx, name)
	if err != nil {
		return fmt.Errorf("stream %s: %w", name, err)
	}
	start, err := findStart(ctx, stream, after)
	if err != nil {
		return err
	}
	cc := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if start > 0 {
		cc = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: start}
	}
	cons, err := stream.OrderedConsumer(ctx, cc)
	if err != nil {
		return fmt.Errorf("stream %s: consumer: %w", name, err)
	}
	f.msgs, err = cons.Messages()
	if err != nil {
		return fmt.Errorf("stream %s: consumer: %w", name, err)
	}
	return nil
}

// findStart returns the stream sequence of the first message holding a seq
// after `after` (0 for an empty stream), by binary search on the messages'
// last-seq headers, which grow with the stream sequence.
func findStart(ctx context.Context, stream jetstream.Stream, after int64) (uint64, error) {
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	if info.State.Msgs == 0 {
		return info.State.LastSeq + 1, nil
	}
	lastOf := func(seq uint64) (first, last int64, err error) {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			return 0, 0, fmt.Errorf("reading stream message %d: %w", seq, err)
		}
		first, err1 := strconv.ParseInt(msg.Header.Get(HeaderFirstSeq), 10, 64)
		last, err2 := strconv.ParseInt(msg.Header.Get(HeaderLastSeq), 10, 64)
		if err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("%w: stream message %d has no seq headers", ErrBadFeed, seq)
		}
		return first, last, nil
	}
	lo, hi := info.State.FirstSeq, info.State.LastSeq+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		_, last, err := lastOf(mid)
		if err != nil {
			return 0, err
		}
		if last > after {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo <= info.State.LastSeq {
		first, _, err := lastOf(lo)
		if err != nil {
			return 0, err
		}
		if lo == info.State.FirstSeq && first > after+1 {
			return 0, fmt.Errorf("%w: the stream starts at seq %d, the follower is at %d", ErrGap, first, after)
		}
	}
	return lo, nil
}

func (f *natsFeed) next(ctx context.Context) (*events.Batch, []events.Event, error) {
	stop := context.AfterFunc(ctx, f.msgs.Stop)
	defer stop()
	msg, err := f.msgs.Next()
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, err
	}
	page, err := decodePage(msg.Data())
	if err != nil {
		return nil, nil, err
	}
	if len(page.Events) == 0 || len(page.Batches) != 1 {
		return nil, nil, fmt.Errorf("%w: a message holds the events of one batch", ErrBadFeed)
	}
	return &page.Batches[0], page.Events, nil
}

func (f *natsFeed) close() {
	if f.msgs != nil {
		f.msgs.Stop()
	}
	f.nc.Close()
}
