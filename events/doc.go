// Package events defines the data that flows through deltalog: packages as
// parsed from snapshots, changelog events carrying package-level deltas, and
// the edit batches that group them.
//
// These types are the wire format of the changelog. They are encoded as JSON
// (in the changelog table, the tail output, the HTTP feed and NATS messages),
// so field names are part of the public contract: add fields, never rename.
package events
