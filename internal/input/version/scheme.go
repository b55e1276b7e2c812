package version

// Valid reports whether s is a known scheme.
func Valid(s Scheme) bool {
	switch s {
	case SchemeGeneric, SchemeDebian, SchemePyPI, SchemeNPM:
		return true
	}
	return false
}

// SchemeKey is Key(Normalize(s, v)): the order-preserving key of a version
// as spelled in a repository of scheme s. deltalog stores it with every
// package.
func SchemeKey(s Scheme, v string) []byte { return Key(Normalize(s, v)) }
