package replay

// Internals for the external tests.

// SSEMessage and NewSSEReader expose the follower's SSE decoder.
type SSEMessage = sseMessage

func NewSSEReader(r interface{ Read([]byte) (int, error) }) interface{ Next() (SSEMessage, error) } {
	return newSSEReader(r)
}
