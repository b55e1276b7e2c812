package version_test

import (
	"bytes"
	"fmt"

	"github.com/deltalog/deltalog/internal/input/version"
)

func ExampleCompare() {
	fmt.Println(version.Compare("1.0", "1.0.0"))
	fmt.Println(version.Compare("1.0rc1", "1.0"))
	fmt.Println(version.Compare("1.0", "1.0patch1"))
	fmt.Println(version.Compare("1.10", "1.9"))
	// Output:
	// 0
	// -1
	// -1
	// 1
}

// Within a repository, its own order: dpkg's puts ~ before everything and
// a +deb12u1 after its base.
func ExampleOrderOf() {
	dpkg := version.OrderOf(version.SchemeDebian)
	fmt.Println(dpkg.Compare("0.9.2-3.1~deb12u1", "0.9.2-3.1+deb12u1"))
	fmt.Println(dpkg.Compare("0.37-16+deb12u1", "0.37-16"))
	fmt.Println(version.OrderOf(version.SchemePyPI).Compare("1.0.dev1", "1.0a1"))
	// Output:
	// -1
	// 1
	// -1
}

func ExampleNormalize() {
	fmt.Println(version.Normalize(version.SchemeDebian, "1:2.4~rc1+dfsg-3+deb12u1"))
	fmt.Println(version.Normalize(version.SchemeDebian, "1.12+really1.11-1"))
	fmt.Println(version.Normalize(version.SchemePyPI, "1!2.4-RC-1+local"))
	fmt.Println(version.Normalize(version.SchemeSemver, "v2.4.0-rc.1+build.7"))
	// Output:
	// 2.4~rc1
	// 1.11
	// 2.4rc1
	// 2.4.0-rc.1
}

// The newest version of a project across repositories: normalize each
// repository's version, then take the greatest, by Compare in Go or by Key
// in SQL (the largest version_key of a bytea column).
func ExampleKey() {
	versions := []struct {
		scheme version.Scheme
		v      string
	}{
		{version.SchemeDebian, "1:2.3.1-2"},
		{version.SchemePyPI, "2.4rc1"},
		{version.SchemeSemver, "2.3.2"},
		{version.SchemeDebian, "2.4~beta2-1"},
	}
	newest, newestKey := "", []byte(nil)
	for _, r := range versions {
		if k := version.SchemeKey(r.scheme, r.v); bytes.Compare(k, newestKey) > 0 {
			newest, newestKey = r.v, k
		}
	}
	fmt.Println(newest)
	fmt.Printf("%x\n", version.Key("2.4rc1"))
	// Output:
	// 2.4rc1
	// 600132600134107260013130
}
