package version_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/input/version"
)

var debian = version.OrderOf(version.SchemeDebian)

// needDpkg skips the test when dpkg is not installed.
func needDpkg(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("dpkg"); err != nil {
		tb.Skip("dpkg not installed (apt-get install dpkg, or make deps): the Debian order is checked against dpkg --compare-versions")
	}
}

// errDpkgRejects is dpkgSays' error for a version dpkg refuses to compare.
var errDpkgRejects = errors.New("dpkg rejects the version")

// dpkgSays asks dpkg --compare-versions whether a op b holds (op: lt, eq,
// gt).
func dpkgSays(a, op, b string) (bool, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("dpkg", "--compare-versions", a, op, b)
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		return true, nil
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return false, nil
	}
	if strings.Contains(stderr.String(), "error") {
		return false, errDpkgRejects
	}
	return false, err
}

// dpkgSign returns dpkg's sign of a against b.
func dpkgSign(a, b string) (int, error) {
	for _, c := range []struct {
		op   string
		sign int
	}{{"lt", -1}, {"eq", 0}} {
		ok, err := dpkgSays(a, c.op, b)
		if err != nil || ok {
			return c.sign, err
		}
	}
	return 1, nil
}

var signOps = map[int]string{-1: "lt", 0: "eq", 1: "gt"}

// sharedDebianVersions reads every (package name, version) of every
// Sources and Packages index of the shared Debian data: every suite and
// every overlay, source and binary names together.
func sharedDebianVersions(t *testing.T) map[string][]string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "..", "shared", "data", "debian")
	var files []string
	for _, pattern := range []string{"debian-*-Sources-*.xz", "debian-*-Packages-*.xz"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		require.NoError(t, err)
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skipf("no Debian indexes under %s (see the README: the shared data)", dir)
	}
	seen := map[[2]string]bool{}
	out := map[string][]string{}
	for _, file := range files {
		f := formats.DebianPackages
		if strings.Contains(filepath.Base(file), "-Sources-") {
			f = formats.DebianSources
		}
		r, err := formats.Open(file)
		require.NoError(t, err)
		_, err = formats.Parse(r, file, f, func(p events.Package) error {
			if k := [2]string{p.Name, p.Version}; !seen[k] {
				seen[k] = true
				out[p.Name] = append(out[p.Name], p.Version)
			}
			return nil
		})
		require.NoError(t, r.Close())
		require.NoError(t, err)
	}
	return out
}

// TestDebianOrderMatchesDpkg checks the Debian order against dpkg
// --compare-versions on every distinct pair of versions of the same
// package name across all shared Debian indexes (Sources and Packages of
// every suite and overlay).
//
// Asking dpkg about every pair would take one process per pair. Instead
// each name's versions are sorted by the Debian order and dpkg is asked
// only about neighbours, whether each is below or equal to the next as the
// order says: dpkg's order is transitive, so agreeing on every neighbour is
// agreeing on every pair. Neighbour pairs repeat across names (the binary
// packages of one source share its versions) and are asked once. That is
// about 30,000 runs of dpkg (under a minute on an idle 2-core machine);
// with DELTALOG_SHORT set, one neighbour pair in ten is asked.
func TestDebianOrderMatchesDpkg(t *testing.T) {
	t.Parallel()
	needDpkg(t)
	byName := sharedDebianVersions(t)
	type pair struct{ a, b string }
	want := map[pair]int{}
	allPairs := 0
	for _, vs := range byName {
		slices.SortFunc(vs, debian.Compare)
		allPairs += len(vs) * (len(vs) - 1) / 2
		for i := 1; i < len(vs); i++ {
			want[pair{vs[i-1], vs[i]}] = debian.Compare(vs[i-1], vs[i])
		}
	}
	t.Logf("%d names, %d pairs of versions of one name, %d distinct neighbour pairs asked", len(byName), allPairs, len(want))
	require.Greater(t, allPairs, 50000, "the shared data has tens of thousands of pairs")

	pairs := make(chan pair)
	var mu sync.Mutex
	var wrong []string
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for p := range pairs {
				ok, err := dpkgSays(p.a, signOps[want[p]], p.b)
				if err == nil && ok {
					continue
				}
				got, err2 := dpkgSign(p.a, p.b)
				mu.Lock()
				wrong = append(wrong, strings.Join([]string{p.a, p.b, signOps[want[p]], signOps[got], errors.Join(err, err2).Error()}, " "))
				mu.Unlock()
			}
		})
	}
	short := os.Getenv("DELTALOG_SHORT") != ""
	i := 0
	for p := range want {
		if i++; !short || i%10 == 0 {
			pairs <- p
		}
	}
	close(pairs)
	wg.Wait()
	require.Empty(t, wrong, "pairs where the Debian order (first sign) and dpkg (second) differ")
}

// FuzzDebianOrderDpkg compares the Debian order with dpkg --compare-versions
// on random versions (run with -fuzz; without it, on the seeds). Versions
// dpkg refuses are skipped.
func FuzzDebianOrderDpkg(f *testing.F) {
	for _, seed := range [][2]string{
		{"1.0~rc1-1", "1.0-1"}, {"1.0~~", "1.0~"}, {"1.0", "1.0-0"}, {"1:0.9", "2.0"},
		{"1.0a", "1.0+"}, {"1.0.", "1.0"}, {"0.9.2-3.1~deb12u1", "0.9.2-3.1+deb12u1"},
		{"2.4.1+dfsg+~2.4.0-2+deb12u1", "2.4.1+dfsg+~2.4.0-2"}, {"00010:1", "10:1"},
		{"1.0-1-1", "1.0-1.1"}, {"9.2p1-2+deb12u7", "9.2p1-2+deb12u10"}, {"1.0\xc3\xa9", "1.0+"},
	} {
		f.Add(seed[0], seed[1])
	}
	needDpkg(f)
	f.Fuzz(func(t *testing.T, a, b string) {
		if a == "" || b == "" || strings.ContainsAny(a+b, "\x00") {
			return
		}
		got := debian.Compare(a, b)
		ok, err := dpkgSays(a, signOps[got], b)
		if errors.Is(err, errDpkgRejects) {
			return
		}
		require.NoError(t, err)
		if !ok {
			sign, _ := dpkgSign(a, b)
			t.Fatalf("Debian order: %q %s %q; dpkg: %s", a, signOps[got], b, signOps[sign])
		}
	})
}
