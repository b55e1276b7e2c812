package version

import (
	"cmp"
	"strings"
)

// debianOrder is dpkg's order of Debian versions (Debian Policy §5.6.12),
// the one apt uses to choose among versions of one package: the epoch
// compares numerically, then the upstream version, then the Debian
// revision, each by dpkg's verrevcmp.
type debianOrder struct{}

// debianVersion is a Debian version split as dpkg splits it: the epoch is
// everything before the first colon (when that is a number), the revision
// everything after the last hyphen.
type debianVersion struct {
	epoch, upstream, revision string
}

func parseDebian(v string) debianVersion {
	v = strings.Trim(v, " \t") // dpkg trims blanks only
	var d debianVersion
	if i := strings.IndexByte(v, ':'); i > 0 && allDigits(v[:i]) {
		d.epoch, v = strings.TrimLeft(v[:i], "0"), v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		d.upstream, d.revision = v[:i], v[i+1:]
	} else {
		d.upstream = v
	}
	return d
}

func (debianOrder) Compare(a, b string) int {
	x, y := parseDebian(a), parseDebian(b)
	// Epochs are digit strings without leading zeros: longer is larger.
	if c := cmp.Compare(len(x.epoch), len(y.epoch)); c != 0 {
		return c
	}
	if c := strings.Compare(x.epoch, y.epoch); c != 0 {
		return c
	}
	if c := verrevcmp(x.upstream, y.upstream); c != 0 {
		return c
	}
	return verrevcmp(x.revision, y.revision)
}

// dpkgOrder is the weight dpkg gives a byte outside a run of digits: ~
// sorts before everything, even the end of the string; then the end (and a
// digit, where a digit run starts); then letters, in ASCII order; then every
// other byte, after all letters. (dpkg reads bytes as signed chars and adds
// 256 to non-letters, so bytes from 0x80 up land between the letters and
// ASCII punctuation: their weight is their unsigned value.)
func dpkgOrder(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	case c >= 0x80:
		return int(c)
	}
	return int(c) + 256
}

// verrevcmp compares two upstream versions or two revisions as dpkg does:
// alternately a run of non-digits, compared byte by byte by dpkgOrder, and
// a run of digits, compared numerically (any length, leading zeros
// ignored).
func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			if c := cmp.Compare(dpkgOrder(a, i), dpkgOrder(b, j)); c != 0 {
				return c
			}
			i, j = i+1, j+1
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		firstDiff := 0
		for i < len(a) && j < len(b) && isDigit(a[i]) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = cmp.Compare(a[i], b[j])
			}
			i, j = i+1, j+1
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return firstDiff
		}
	}
	return 0
}
