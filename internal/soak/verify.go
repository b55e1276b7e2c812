package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/projections"
	"github.com/deltalog/deltalog/replay"
)

// Names of the readers that must reach the head, besides the projections.
const (
	readerStream   = "stream"
	readerFollower = "follower"
)

// positions is where every reader of the changelog is.
type positions struct {
	head        int64
	projections []projections.Status
	stream      int64 // the last seq in the stream
	follower    int64 // the follower's head
	err         error // the database or the stream could not be read
}

func (s *soak) positions(ctx context.Context) positions {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var p positions
	p.head, p.err = changelog.Head(ctx, s.leader)
	if p.err == nil {
		p.projections, p.err = projections.ReadStatus(ctx, s.leader)
	}
	if p.err == nil {
		p.follower, p.err = changelog.Head(ctx, s.follower)
	}
	if p.err == nil {
		p.stream, p.err = s.nats.lastSeq(ctx)
	}
	return p
}

// at returns each reader's position by name.
func (p positions) at() map[string]int64 {
	out := map[string]int64{readerStream: p.stream, readerFollower: p.follower}
	for _, st := range p.projections {
		out[st.Name] = st.Checkpoint
	}
	return out
}

func (p positions) String() string {
	if p.err != nil {
		msg := p.err.Error()
		if len(msg) > 120 {
			msg = msg[:117] + "..."
		}
		return "positions unknown (" + msg + ")"
	}
	parts := []string{fmt.Sprintf("head %d", p.head)}
	for _, st := range p.projections {
		parts = append(parts, fmt.Sprintf("%s %d", st.Name, st.Checkpoint))
	}
	parts = append(parts, fmt.Sprintf("stream %d", p.stream), fmt.Sprintf("follower %d", p.follower))
	return strings.Join(parts, ", ")
}

// CatchUpReport is how the readers caught up once the faults stopped.
type CatchUpReport struct {
	// After is, per reader (each projection, the stream, the follower), the
	// time from the last fault to it being at the head.
	After map[string]time.Duration `json:"after_ns"`
	// Pending describes each reader still behind when the bound passed.
	Pending []string `json:"pending,omitempty"`
}

// settle waits, at most Settle, for every reader to reach the head.
func (s *soak) settle(ctx context.Context, faultAt time.Time) CatchUpReport {
	rep := CatchUpReport{After: map[string]time.Duration{}}
	deadline := time.Now().Add(s.cfg.Settle)
	for {
		p := s.positions(ctx)
		if p.err == nil {
			at := p.at()
			for name, seq := range at {
				if _, done := rep.After[name]; !done && seq >= p.head {
					rep.After[name] = time.Since(faultAt)
				}
			}
			if len(rep.After) == len(at) {
				return rep
			}
		}
		if time.Now().After(deadline) || !sleep(ctx, 250*time.Millisecond) {
			rep.Pending = pending(p)
			return rep
		}
	}
}

// pending describes the readers behind the head.
func pending(p positions) []string {
	if p.err != nil {
		return []string{p.String()}
	}
	var out []string
	for _, st := range p.projections {
		if st.Checkpoint < p.head {
			d := fmt.Sprintf("projection %s at %d of head %d, %s", st.Name, st.Checkpoint, p.head, st.State)
			if st.Error != "" {
				d += ": " + st.Error
			}
			out = append(out, d)
		}
	}
	if p.stream < p.head {
		out = append(out, fmt.Sprintf("stream at %d of head %d", p.stream, p.head))
	}
	if p.follower < p.head {
		out = append(out, fmt.Sprintf("follower at %d of head %d", p.follower, p.head))
	}
	return out
}

// lastSeq returns the last changelog seq in the stream (0 before the
// replicator created it).
func (n *natsServer) lastSeq(ctx context.Context) (int64, error) {
	stream, err := n.js.Stream(ctx, replay.DefaultStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	info, err := stream.Info(ctx)
	if err != nil || info.State.Msgs == 0 {
		return 0, err
	}
	msg, err := stream.GetMsg(ctx, info.State.LastSeq)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(msg.Header.Get(replay.HeaderLastSeq), 10, 64)
}

// StreamReport is what the stream holds, against the changelog's seqs
// 1..head.
type StreamReport struct {
	Messages int   `json:"messages"`
	Events   int64 `json:"events"`
	// Missing counts the seqs of the changelog not in the stream,
	// Duplicated the events beyond the first of their seq, Unknown the
	// events whose seq is not in the changelog.
	Missing    int64 `json:"missing"`
	Duplicated int64 `json:"duplicated"`
	Unknown    int64 `json:"unknown"`
	// InOrder says the events follow each other seq by seq.
	InOrder bool `json:"in_order"`
}

// checkStream reads every message of the stream.
func (s *soak) checkStream(ctx context.Context, head int64) (StreamReport, error) {
	rep := StreamReport{InOrder: true}
	count := make([]uint32, head+1)
	stream, err := s.nats.js.Stream(ctx, replay.DefaultStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		rep.Missing = head
		return rep, nil
	}
	if err != nil {
		return rep, fmt.Errorf("soak: reading the stream: %w", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return rep, fmt.Errorf("soak: reading the stream: %w", err)
	}
	var prev int64
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			return rep, fmt.Errorf("soak: reading stream message %d: %w", seq, err)
		}
		var page changelog.Page
		if err := json.Unmarshal(msg.Data, &page); err != nil {
			return rep, fmt.Errorf("soak: stream message %d: %w", seq, err)
		}
		rep.Messages++
		for _, ev := range page.Events {
			rep.Events++
			if ev.Seq != prev+1 {
				rep.InOrder = false
			}
			prev = ev.Seq
			if ev.Seq < 1 || ev.Seq > head {
				rep.Unknown++
				continue
			}
			if count[ev.Seq]++; count[ev.Seq] > 1 {
				rep.Duplicated++
			}
		}
	}
	for _, n := range count[1:] {
		if n == 0 {
			rep.Missing++
		}
	}
	return rep, nil
}

// FollowerReport compares the follower's state with the leader's.
type FollowerReport struct {
	HeadSeq       int64  `json:"head_seq"`
	StateChecksum string `json:"state_checksum"`
	Equal         bool   `json:"equal"`
	// Difference names the first difference found, when not Equal.
	Difference string `json:"difference,omitempty"`
}

func (s *soak) checkFollower(ctx context.Context) (FollowerReport, error) {
	leader, err := readStatus(ctx, s.leader)
	if err != nil {
		return FollowerReport{}, err
	}
	follower, err := readStatus(ctx, s.follower)
	if err != nil {
		return FollowerReport{}, err
	}
	rep := FollowerReport{HeadSeq: follower.HeadSeq, StateChecksum: follower.StateChecksum}
	switch {
	case follower.HeadSeq != leader.HeadSeq:
		rep.Difference = fmt.Sprintf("head seq %d, the leader's %d", follower.HeadSeq, leader.HeadSeq)
	case follower.StateChecksum != leader.StateChecksum:
		rep.Difference = fmt.Sprintf("state checksum %s, the leader's %s", follower.StateChecksum, leader.StateChecksum)
	case len(follower.Repositories) != len(leader.Repositories):
		rep.Difference = fmt.Sprintf("%d repositories, the leader %d", len(follower.Repositories), len(leader.Repositories))
	default:
		for i, f := range follower.Repositories {
			l := leader.Repositories[i]
			f.UpdatedAt, l.UpdatedAt = time.Time{}, time.Time{} // a follower's are its own
			if f != l {
				rep.Difference = fmt.Sprintf("repository %s: %+v, the leader's %+v", l.Name, f, l)
				break
			}
		}
	}
	rep.Equal = rep.Difference == ""
	return rep, nil
}

// readStatus reads a database's status in one snapshot.
func readStatus(ctx context.Context, pool *pgxpool.Pool) (*changelog.Status, error) {
	var st *changelog.Status
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			var err error
			st, err = changelog.ReadStatus(ctx, tx)
			return err
		})
	return st, err
}

// AuditReport is the outcome of `deltalog audit --replay-history`.
type AuditReport struct {
	Status int `json:"status"` // its exit status: 0 consistent
	// Summary is its first line of output, or its error.
	Summary string `json:"summary"`
}

// audit runs `deltalog audit --replay-history` on the leader.
func (s *soak) audit() AuditReport {
	cmd := exec.Command(s.cfg.Binary, "audit", "--replay-history", "--db", appURL(s.leaderURL, appPrefix+"audit"))
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil {
		return AuditReport{Status: -1, Summary: err.Error()}
	}
	rep := AuditReport{Status: cmd.ProcessState.ExitCode()}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	rep.Summary = lines[0]
	if rep.Status != 0 {
		// What is wrong: the checks marked "!" with their sample rows,
		// and the notes.
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, "!") || strings.HasPrefix(l, "      ") || strings.HasPrefix(l, "note:") {
				rep.Summary += "\n    " + strings.TrimSpace(l)
			}
		}
	}
	return rep
}
