package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
)

// SSE event types of GET /changelog/stream.
const (
	sseEvent = "event"
	sseBatch = "batch"
)

// appendSSE appends one Server-Sent Events message. data must not contain
// newlines (JSON from encoding/json does not).
func appendSSE(buf []byte, typ, id string, data []byte) []byte {
	if id != "" {
		buf = append(buf, "id: "...)
		buf = append(buf, id...)
		buf = append(buf, '\n')
	}
	buf = append(buf, "event: "...)
	buf = append(buf, typ...)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, data...)
	return append(buf, '\n', '\n')
}

// sseMessage is one dispatched SSE message.
type sseMessage struct {
	Type string
	ID   string
	Data []byte
}

// maxSSELine bounds one line of an SSE stream: an event of a huge
// packageset is large, an endless line is an attack.
const maxSSELine = 64 << 20

// sseReader decodes a Server-Sent Events stream (the subset of the
// WHATWG event-stream format a client needs: data, event and id fields,
// comments, lines ending in LF or CRLF).
type sseReader struct {
	r    *bufio.Reader
	line []byte
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// readLine returns the next line without its end, valid until the next call.
func (s *sseReader) readLine() ([]byte, error) {
	s.line = s.line[:0]
	for {
		chunk, err := s.r.ReadSlice('\n')
		s.line = append(s.line, chunk...)
		if len(s.line) > maxSSELine {
			return nil, fmt.Errorf("%w: SSE line longer than %d bytes", ErrBadFeed, maxSSELine)
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && len(s.line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line := s.line[:len(s.line)-1]
	return bytes.TrimSuffix(line, []byte{'\r'}), nil
}

// Next returns the next message with data. Messages without data are
// skipped, as the format requires.
func (s *sseReader) Next() (sseMessage, error) {
	var m sseMessage
	var data []byte
	hasData := false
	for {
		line, err := s.readLine()
		if err != nil {
			return sseMessage{}, err
		}
		if len(line) == 0 {
			if hasData {
				m.Data = data
				if m.Type == "" {
					m.Type = "message"
				}
				return m, nil
			}
			m, data = sseMessage{}, nil
			continue
		}
		if line[0] == ':' {
			continue // comment: a keep-alive
		}
		field, value, found := bytes.Cut(line, []byte{':'})
		if found {
			value = bytes.TrimPrefix(value, []byte{' '})
		}
		switch string(field) {
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		case "event":
			m.Type = string(value)
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				m.ID = string(value)
			}
		}
	}
}

// decodeEvent decodes and checks an event from a feed.
func decodeEvent(data []byte) (events.Event, error) {
	var ev events.Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return events.Event{}, fmt.Errorf("%w: event: %w", ErrBadFeed, err)
	}
	if ev.Seq <= 0 || ev.Batch <= 0 || ev.Repo == "" || !ev.Kind.Valid() {
		return events.Event{}, fmt.Errorf("%w: event %d: missing seq, batch, repo or kind", ErrBadFeed, ev.Seq)
	}
	// As the changelog reads them: an empty side is absent.
	if len(ev.Removed) == 0 {
		ev.Removed = nil
	}
	if len(ev.Added) == 0 {
		ev.Added = nil
	}
	return ev, nil
}

// decodeBatch decodes and checks a batch record from a feed.
func decodeBatch(data []byte) (*events.Batch, error) {
	var b events.Batch
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%w: batch: %w", ErrBadFeed, err)
	}
	if b.ID <= 0 || b.Repo == "" || b.FirstSeq <= 0 || b.LastSeq < b.FirstSeq {
		return nil, fmt.Errorf("%w: batch %d: missing id, repository or seq range", ErrBadFeed, b.ID)
	}
	return &b, nil
}

// decodePage decodes and checks a page (a NATS message or a GET /changelog
// response): events in increasing seq order, each with its batch record.
func decodePage(data []byte) (*changelog.Page, error) {
	var p changelog.Page
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%w: page: %w", ErrBadFeed, err)
	}
	var prev int64
	for i := range p.Batches {
		if b := &p.Batches[i]; b.ID <= prev || b.Repo == "" || b.FirstSeq <= 0 || b.LastSeq < b.FirstSeq {
			return nil, fmt.Errorf("%w: page: batch records out of order or incomplete", ErrBadFeed)
		}
		prev = p.Batches[i].ID
	}
	prev = p.After
	for i := range p.Events {
		ev := &p.Events[i]
		if ev.Seq <= prev || !ev.Kind.Valid() || ev.Repo == "" || p.Batch(ev.Batch) == nil {
			return nil, fmt.Errorf("%w: page: event %d out of order, incomplete or without its batch", ErrBadFeed, ev.Seq)
		}
		prev = ev.Seq
	}
	return &p, nil
}

func seqID(seq int64) string { return strconv.FormatInt(seq, 10) }
