package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/events"
)

var fuzzEvent = events.Event{Seq: 7, Batch: 2, Repo: "debian", Project: "hello", Kind: events.KindChanged,
	OldChecksum: "00000000000000aa", NewChecksum: "00000000000000bb",
	Removed:  []events.Package{{Project: "hello", Name: "hello", Version: "1.0"}},
	Added:    []events.Package{{Project: "hello", Name: "hello", Version: "2.0", Extra: map[string]string{"a": "b\nc"}}},
	BatchEnd: &events.BatchEnd{RepoStateChecksum: "0000000000000001", GlobalStateChecksum: "0000000000000002"}}

// FuzzSSEReader: any byte stream decodes without panicking into messages
// whose events survive a re-encoding unchanged.
func FuzzSSEReader(f *testing.F) {
	data, _ := json.Marshal(fuzzEvent)
	f.Add(appendSSE(nil, sseEvent, "7", data))
	f.Add([]byte(": keep-alive\n\nevent: batch\ndata: {\"id\":2,\"repo\":\"r\",\"first_seq\":1,\"last_seq\":3}\n\n"))
	f.Add([]byte("data: a\r\ndata: b\r\n\r\nid\nevent\n\n"))
	f.Add([]byte("event: event\nid: 1\ndata: {\"seq\":1}\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := newSSEReader(bytes.NewReader(in))
		for {
			m, err := r.Next()
			if err != nil {
				require.True(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrBadFeed), err)
				return
			}
			require.NotEmpty(t, m.Type)
			if m.Type == sseBatch {
				_, _ = decodeBatch(m.Data)
			}
			ev, err := decodeEvent(m.Data)
			if err != nil {
				continue
			}
			again, err := json.Marshal(ev)
			require.NoError(t, err)
			back, err := newSSEReader(bytes.NewReader(appendSSE(nil, sseEvent, seqID(ev.Seq), again))).Next()
			require.NoError(t, err)
			require.Equal(t, seqID(ev.Seq), back.ID)
			ev2, err := decodeEvent(back.Data)
			require.NoError(t, err)
			third, err := json.Marshal(ev2)
			require.NoError(t, err)
			require.Equal(t, string(again), string(third))
		}
	})
}

// FuzzDecodePage: any input is either refused or a well-formed page that
// survives a re-encoding unchanged.
func FuzzDecodePage(f *testing.F) {
	b := events.Batch{ID: 2, Repo: "debian", FirstSeq: 7, LastSeq: 7, VersionScheme: "debian"}
	good, _ := json.Marshal(changelog.Page{Events: []events.Event{fuzzEvent}, Batches: []events.Batch{b}, After: 6, Next: 7, Head: 9})
	f.Add(good)
	f.Add([]byte(`{"events":[{"seq":1,"batch":1,"repo":"r","kind":"added"}],"batches":[]}`))
	f.Add([]byte(`{"events":[],"batches":[{"id":1}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := decodePage(in)
		if err != nil {
			require.ErrorIs(t, err, ErrBadFeed)
			return
		}
		for i := range p.Events {
			require.NotNil(t, p.Batch(p.Events[i].Batch))
		}
		again, err := json.Marshal(p)
		require.NoError(t, err)
		p2, err := decodePage(again)
		require.NoError(t, err)
		third, err := json.Marshal(p2)
		require.NoError(t, err)
		require.Equal(t, string(again), string(third))
	})
}
