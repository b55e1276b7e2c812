package version

// Bytes that start each component in a key, in rank order, with the end of
// the key placed where the padding it stands for sorts: see Key.
const (
	keyPreRelease   byte = 0x10
	keyEnd          byte = 0x20
	keyZero         byte = 0x30
	keyPostRelease  byte = 0x40
	keyNonZero      byte = 0x50
	keyLetterSuffix byte = 0x60
)

// Key returns a binary key for v that sorts like v: for all a and b,
// bytes.Compare(Key(a), Key(b)) == Compare(a, b), so Key(a) and Key(b) are
// identical exactly when Compare(a, b) == 0. Keys can be stored and ordered
// where only bytes are understood, such as a PostgreSQL bytea column, whose
// comparison is memcmp, then length.
//
// The key lists the version's components, as Compare sees them, each as a
// rank byte and a value, and ends with keyEnd:
//
//   - a word (pre-release, post-release, letter suffix): its rank byte and
//     its lower-cased first letter, which is all Compare looks at (0x60,
//     just below a, for dev…);
//   - a non-zero number: keyNonZero, its digit count without leading zeros
//     (n ≥ 255 as 0xFF followed by the count of n-255, so any length fits
//     and longer sorts later), then the digits in ASCII;
//   - a zero: keyZero alone.
//
// Trailing zeros are left out, as they equal the padding. The end then
// stands for endless zeros, and sorts where a zero would against every
// component that can follow it: above a pre-release word, below anything
// else. A zero still in the key is never followed by a pre-release word
// (Compare drops such zeros), so it sorts above the end, as the non-zero
// component after it would. Each component's encoding is prefix-free, so
// the first byte where two keys differ always falls on the same component
// of both.
//
// Keys are a stored format: changing this encoding means recomputing every
// stored key.
func Key(v string) []byte {
	var buf [16]component
	comps := buf[:0]
	size := 1
	c := canonical{sc: scanner{s: v}}
	for {
		comp, ok := c.next()
		if !ok {
			break
		}
		comps = append(comps, comp)
		size += 2 + len(comp.digits)
	}
	for len(comps) > 0 && comps[len(comps)-1].rank == rankZero {
		comps = comps[:len(comps)-1]
	}

	key := make([]byte, 0, size)
	for _, c := range comps {
		switch c.rank {
		case rankPreRelease:
			key = append(key, keyPreRelease, c.letter)
		case rankZero:
			key = append(key, keyZero)
		case rankPostRelease:
			key = append(key, keyPostRelease, c.letter)
		case rankNonZero:
			key = append(key, keyNonZero)
			n := len(c.digits)
			for ; n >= 0xFF; n -= 0xFF {
				key = append(key, 0xFF)
			}
			key = append(key, byte(n))
			key = append(key, c.digits...)
		case rankLetterSuffix:
			key = append(key, keyLetterSuffix, c.letter)
		}
	}
	return append(key, keyEnd)
}
