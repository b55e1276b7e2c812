package version

import (
	"strings"
	"unicode"
)

// Normalize for Debian: the upstream release, as libversion should read
// it. Each rule below undoes something Debian adds to a version that is not
// part of the upstream release, or that libversion would misread:
//
//   - the epoch (1:) only resets dpkg's order after a change of numbering;
//     upstream never has it;
//   - the revision (the last -…) counts Debian's own uploads of one upstream
//     release;
//   - X+reallyY (and X-really-Y, X+really.Y) ships Y, relabelled to sort
//     above X in dpkg after a revert: Y is the real version;
//   - +~cs… and +~… add the versions of bundled components (Debian's
//     multi-tarball packages, 3.0.1+~cs5.2.1): not the main upstream's;
//   - repack markers (+dfsg, +ds, +repack, with their numbers, up to the
//     next + or ~) say Debian removed files from the tarball: same release;
//   - a ~ right before a digit marks a snapshot before the release
//     (1.0~20240101 is older than 1.0 in dpkg); libversion would read the
//     number as one more release component (1.0.20240101 > 1.0.1), so a
//     pre-release word is put in front of it (1.0~pre20240101).
//
// Everything else (~rc1, +git20240101, +deb12u1 of a native package) is
// left to libversion, which reads such words as pre-releases.
func (debianOrder) Normalize(v string) string {
	d := parseDebian(v)
	u := debianReally(d.upstream)
	if i := strings.Index(u, "+~"); i >= 0 {
		u = u[:i]
	}
	u = debianStripRepack(u)
	return debianSnapshots(u)
}

// debianReally turns X+reallyY into Y.
func debianReally(v string) string {
	for from := len(v); ; {
		i := strings.LastIndex(v[:from], "really")
		if i < 0 {
			return v
		}
		from = i
		if i == 0 || isAlpha(v[i-1]) {
			continue
		}
		rest := strings.TrimLeft(v[i+len("really"):], "+~.-_")
		if rest != "" && isDigit(rest[0]) {
			return rest
		}
	}
}

// debianStripRepack drops the words that mark a repacked upstream tarball
// (dfsg, ds, dsx, repack, repacked), with whatever follows them up to the
// next + or ~, as in 1.2+dfsg1, 1.2~ds, 1.2.dfsg.1 or 1.2+repack20220817.a5b6.
func debianStripRepack(v string) string {
	var out []byte // what is kept of v[:last], once something is dropped
	last := 0
	for i := 1; i < len(v); {
		if !isAlpha(v[i]) || isAlpha(v[i-1]) {
			i++
			continue
		}
		j := skipAlpha(v, i)
		switch strings.ToLower(v[i:j]) {
		case "dfsg", "ds", "dsx", "repack", "repacked":
		default:
			i = j
			continue
		}
		start := i
		for start > last && strings.IndexByte("+~.-_", v[start-1]) >= 0 {
			start--
		}
		if start == 0 {
			// Nothing before the marker: leave the version alone.
			i = j
			continue
		}
		end := j
		for end < len(v) && v[end] != '+' && v[end] != '~' {
			end++
		}
		out = append(out, v[last:start]...)
		last, i = end, end
	}
	if out == nil {
		return v
	}
	return string(append(out, v[last:]...))
}

// debianSnapshots writes "pre" after every ~ that a digit follows.
func debianSnapshots(v string) string {
	if !strings.Contains(v, "~") {
		return v
	}
	var b strings.Builder
	b.Grow(len(v) + 6)
	for i := 0; i < len(v); i++ {
		b.WriteByte(v[i])
		if v[i] == '~' && i+1 < len(v) && isDigit(v[i+1]) {
			b.WriteString("pre")
		}
	}
	return b.String()
}

// Normalize for PyPI: a version valid under PEP 440 is written canonically
// without its epoch and local part (1!2.0RC1+local becomes 2.0rc1; 1.0-1
// and 1.0r1 become 1.0.post1; 1.0a becomes 1.0a0, which libversion reads as
// a pre-release where 1.0a would be a letter suffix, after 1.0.1). The
// epoch only renumbers within PyPI, the local part marks a downstream
// build. Others are only trimmed and lower-cased.
func (pypiOrder) Normalize(v string) string {
	p, ok := parsePEP440(v)
	if !ok {
		return asciiLower(strings.TrimSpace(v))
	}
	var b strings.Builder
	b.Grow(len(v) + 8)
	for i, n := range p.release {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(cmpNumber(n))
	}
	if p.pre >= 0 {
		b.WriteString([]string{"a", "b", "rc"}[p.pre])
		b.WriteString(cmpNumber(p.preN))
	}
	if p.post {
		b.WriteString(".post" + cmpNumber(p.postN))
	}
	if p.dev {
		b.WriteString(".dev" + cmpNumber(p.devN))
	}
	return b.String()
}

// Normalize for semver: a leading v or = and the build metadata (+…) are
// dropped, and a pre-release that does not start with a pre-release word
// gets one, "pre" (1.0.0-0.3 becomes 1.0.0-pre.0.3, 1.0.0-patch.1 becomes
// 1.0.0-pre.patch.1): semver puts every pre-release before its release,
// where libversion would read 1.0.0-0.3 as a later release and patch as a
// post-release.
func (semverOrder) Normalize(v string) string {
	v = strings.TrimLeftFunc(v, func(r rune) bool {
		return r == 'v' || r == 'V' || r == '=' || unicode.IsSpace(r)
	})
	if i := strings.IndexByte(v, '+'); i >= 0 {
		v = v[:i]
	}
	v = strings.TrimRightFunc(v, unicode.IsSpace)
	i := strings.IndexByte(v, '-')
	if i < 0 {
		return v
	}
	pre := v[i+1:]
	j := 0
	for j < len(pre) && !isAlpha(pre[j]) && !isDigit(pre[j]) {
		j++
	}
	if j == len(pre) || isDigit(pre[j]) || classify(pre[j:skipAlpha(pre, j)], 0) != rankPreRelease {
		pre = "pre." + pre
	}
	return v[:i+1] + pre
}

// asciiLower lower-cases the ASCII letters of s and leaves other bytes alone.
func asciiLower(s string) string {
	for i := range len(s) {
		if s[i] >= 'A' && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lower(b[j])
			}
			return string(b)
		}
	}
	return s
}

func allDigits(s string) bool {
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
