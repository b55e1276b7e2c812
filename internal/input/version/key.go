package version

// Bytes that start each component in a key. A zero is written as one of
// two bytes, by what follows its run of zeros, and the end of the key sits
// between them, where the padding it stands for sorts: see Key.
const (
	keyPreRelease   byte = 0x10
	keyZeroLow      byte = 0x20 // a zero whose run of zeros is followed by a pre-release word
	keyEnd          byte = 0x30
	keyZeroHigh     byte = 0x40 // a zero whose run of zeros is followed by anything else
	keyPostRelease  byte = 0x50
	keyNonZero      byte = 0x60
	keyLetterSuffix byte = 0x70
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
//     its lower-cased first letter, which is all Compare looks at;
//   - a non-zero number: keyNonZero, its digit count without leading zeros
//     (n ≥ 255 as 0xFF followed by the count of n-255, so any length fits
//     and longer sorts later), then the digits in ASCII;
//   - a zero: keyZeroLow or keyZeroHigh alone.
//
// Trailing zeros are left out, as they equal the padding; the end then
// stands for endless zeros. Against a component that is not a zero, the
// padding sorts above a pre-release word and below anything else, and so
// does keyEnd. Against a zero still in the key, what decides is the
// component after that run of zeros (the padding matches every zero of
// it): a pre-release word sorts below the padding, anything else above.
// So a zero is written below the end when its run is followed by a
// pre-release word (1.0.alpha < 1) and above it otherwise (1.0.1 > 1); two
// zeros at the same place compare the same way their runs' followers do,
// and both sort above a pre-release word and below everything else, as a
// zero does. Each component's encoding is prefix-free, so the first byte
// where two keys differ always falls on the same component of both.
//
// Keys are a stored format: changing this encoding (or the order) means
// bumping OrderVersion, which re-derives every stored key.
func Key(v string) []byte {
	var buf [16]component
	comps := buf[:0]
	size := 1
	sc := scanner{s: v}
	for {
		comp, ok := sc.next()
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
	zero := keyZeroHigh // the byte of the zeros of the current run
	for i, c := range comps {
		switch c.rank {
		case rankPreRelease:
			key = append(key, keyPreRelease, c.letter)
		case rankZero:
			if i == 0 || comps[i-1].rank != rankZero {
				j := i
				for comps[j].rank == rankZero {
					j++ // ends: trailing zeros were cut
				}
				zero = keyZeroHigh
				if comps[j].rank == rankPreRelease {
					zero = keyZeroLow
				}
			}
			key = append(key, zero)
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
