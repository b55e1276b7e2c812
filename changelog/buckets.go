package changelog

import (
	"crypto/md5"
	"math/bits"

	"github.com/deltalog/deltalog/hashing"
)

// Bucket is the bucket of a project: the first 16 bits of its md5, as the
// generated column packagesets.bucket computes it (010_buckets.sql). md5
// because SQL and Go both have it; the audit checks that they agree.
func Bucket(project string) uint16 {
	h := md5.Sum([]byte(project))
	return uint16(h[0])<<8 | uint16(h[1])
}

// Buckets is a repository's state checksum split by bucket (the column
// repos.bucket_states): element g is the wrapping sum of the contributions
// of the packagesets whose bucket's top log2(len) bits are g, so that the
// elements sum to the repository's state checksum. Its length is a power
// of two up to 65536; empty means not known (a repository from before
// buckets, until its next changing update).
//
// An update reads the stored checksums only of the groups whose state
// differs from the snapshot's: at a 0.1 % change, a small fraction of the
// repository.
type Buckets []hashing.State

// maxGroups is the most groups a repository is split into: one per bucket.
const maxGroups = 1 << 16

// groupsFor is the number of groups for a repository of n packagesets:
// about eight packagesets a group, a power of two.
func groupsFor(n int) int {
	g := 1
	for g < maxGroups && g*8 < n {
		g <<= 1
	}
	return g
}

// fits reports whether b's length is close enough to the length n
// packagesets want (within a factor of four) to be kept: re-splitting reads
// every stored checksum once, so it waits for the size to really move.
func (b Buckets) fits(n int) bool {
	want := groupsFor(n)
	return len(b) > 0 && len(b) <= 4*want && want <= 4*len(b)
}

// shift is how far a bucket is shifted right to give its group.
func (b Buckets) shift() int { return 16 - (bits.Len(uint(len(b))) - 1) }

// group is the index of bucket's group.
func (b Buckets) group(bucket uint16) int { return int(bucket) >> b.shift() }

// Add adds a packageset's contribution to its bucket's group; states not
// known (empty) stay so.
func (b Buckets) Add(bucket uint16, c hashing.Sum) {
	if len(b) > 0 {
		g := b.group(bucket)
		b[g] = b[g].Add(c)
	}
}

// Remove removes a contribution added before.
func (b Buckets) Remove(bucket uint16, c hashing.Sum) {
	if len(b) > 0 {
		g := b.group(bucket)
		b[g] = b[g].Remove(c)
	}
}

// Sum is the repository's state checksum.
func (b Buckets) Sum() hashing.State {
	var s hashing.State
	for _, x := range b {
		s += x
	}
	return s
}

// BucketRange is the buckets [Lo, Hi).
type BucketRange struct{ Lo, Hi int }

// Differing returns the bucket ranges of the groups where b and other (of
// the same length) differ, adjacent groups merged.
func (b Buckets) Differing(other Buckets) []BucketRange {
	width := 1 << b.shift()
	var out []BucketRange
	for g := range b {
		if b[g] == other[g] {
			continue
		}
		lo := g * width
		if n := len(out); n > 0 && out[n-1].Hi == lo {
			out[n-1].Hi = lo + width
			continue
		}
		out = append(out, BucketRange{Lo: lo, Hi: lo + width})
	}
	return out
}

// NewBuckets returns the zero states of a repository of n packagesets.
func NewBuckets(n int) Buckets { return make(Buckets, groupsFor(n)) }

// Int64s is b as stored.
func (b Buckets) Int64s() []int64 {
	out := make([]int64, len(b))
	for i, s := range b {
		out[i] = int64(s)
	}
	return out
}

// BucketsOf reads b back from its stored form.
func BucketsOf(stored []int64) Buckets {
	b := make(Buckets, len(stored))
	for i, s := range stored {
		b[i] = hashing.State(s)
	}
	return b
}

// scope is what of a repository's stored packagesets an update reads: the
// groups whose state differs from the snapshot's, and the buckets holding
// invalidated packagesets — or all of them when the repository has no
// bucket states that fit its size (new, from before buckets, or grown or
// shrunk by more than a factor of four) or is re-derived.
type scope struct {
	// after is the snapshot's per-bucket states: the repository's once
	// the update is applied.
	after Buckets
	all   bool
	// ranges are the buckets to read unless all; marked holds them as a
	// bitmap of the 65536 buckets.
	ranges []BucketRange
	marked []uint64
	// bucket is the bucket of each of the snapshot's packagesets.
	bucket []uint16
}

// newScope compares the snapshot's packagesets (with their contributions
// to the repository's state) with the stored bucket states.
func newScope(stored Buckets, sets []hashing.Packageset, contributions []hashing.Sum, readAll bool, invalid []uint16) *scope {
	n := len(stored)
	if readAll || !stored.fits(len(sets)) {
		n, readAll = groupsFor(len(sets)), true
	}
	s := &scope{after: make(Buckets, n), all: readAll, bucket: make([]uint16, len(sets))}
	for i := range sets {
		b := Bucket(sets[i].Project)
		s.bucket[i] = b
		s.after.Add(b, contributions[i])
	}
	if readAll {
		return s
	}
	s.ranges = stored.Differing(s.after)
	s.marked = make([]uint64, maxGroups/64)
	for _, r := range s.ranges {
		for b := r.Lo; b < r.Hi; b++ {
			s.marked[b>>6] |= 1 << (b & 63)
		}
	}
	for _, b := range invalid {
		if !s.has(b) {
			s.marked[b>>6] |= 1 << (b & 63)
			s.ranges = append(s.ranges, BucketRange{Lo: int(b), Hi: int(b) + 1})
		}
	}
	return s
}

// has reports whether bucket b is read.
func (s *scope) has(b uint16) bool { return s.all || s.marked[b>>6]&(1<<(b&63)) != 0 }

// covers reports whether the snapshot's packageset i is in the buckets read:
// outside them, the stored packageset is the snapshot's.
func (s *scope) covers(i int) bool { return s.has(s.bucket[i]) }
