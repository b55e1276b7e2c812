package ingest

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/input/version"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
)

var (
	pypiOnce          sync.Once
	pypiBase, pypiNew string
	pypiErr           error
)

// pypiLists decompresses the shared PyPI list once per test binary into a
// temporary directory, with a copy in which every thousandth version is
// changed (a 0.1 % delta); it skips when the list is absent.
func pypiLists(b *testing.B) (base, changed string) {
	b.Helper()
	src := filepath.Join("..", "..", "..", "shared", "data", "registries", "pypi.tsv.xz")
	if _, err := os.Stat(src); err != nil {
		b.Skipf("shared PyPI list not available: %v", err)
	}
	pypiOnce.Do(func() {
		dir, err := os.MkdirTemp("", "deltalog-pypi-")
		if err != nil {
			pypiErr = err
			return
		}
		pypiBase, pypiNew = filepath.Join(dir, "pypi.tsv"), filepath.Join(dir, "pypi-0.1pct.tsv")
		pypiErr = writeLists(src, pypiBase, pypiNew, 1000)
	})
	if pypiErr != nil {
		b.Fatal(pypiErr)
	}
	return pypiBase, pypiNew
}

// writeLists writes src decompressed to base, and to changed with the
// version (second column) of every nth row suffixed.
func writeLists(src, base, changed string, every int) error {
	rc, err := formats.Open(src)
	if err != nil {
		return err
	}
	defer rc.Close()
	fb, err := os.Create(base)
	if err != nil {
		return err
	}
	defer fb.Close()
	fc, err := os.Create(changed)
	if err != nil {
		return err
	}
	defer fc.Close()
	wb, wc := bufio.NewWriter(fb), bufio.NewWriter(fc)
	br := bufio.NewReader(rc)
	for n := 0; ; n++ {
		line, err := br.ReadString('\n')
		wb.WriteString(line)
		if cols := strings.SplitN(line, "\t", 3); n > 0 && n%every == 0 && len(cols) == 3 && cols[1] != "" {
			line = cols[0] + "\t" + cols[1] + ".post9\t" + cols[2]
		}
		wc.WriteString(line)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	return wc.Flush()
}

// BenchmarkUpdatePyPI is an update of the PyPI list (886k packages, one
// repository) on a database holding it: unchanged (byte-identical, with and
// without --reparse) and a 0.1 % delta (runs alternate between the two
// lists). peak-MiB is the process's peak RSS so far.
//
//	go test ./internal/ingest -run '^$' -bench UpdatePyPI -benchtime 3x
func BenchmarkUpdatePyPI(b *testing.B) {
	base, changed := pypiLists(b)
	pool := dbtest.New(b)
	u, err := changelog.NewUpdater(pool, changelog.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	update := func(b *testing.B, file string, reparse bool) *Summary {
		s, err := Run(ctx, u, Params{Repo: "pypi", Format: formats.TSV, Files: []string{file},
			VersionScheme: version.SchemePyPI, Reparse: reparse})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	update(b, base, false)
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		files   []string
		reparse bool
	}{
		{"nochange", []string{base}, false},
		{"nochange-reparse", []string{base}, true},
		{"delta-0.1pct", []string{changed, base}, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			resetPeakRSS()
			var s *Summary
			for i := 0; b.Loop(); i++ {
				s = update(b, c.files[i%len(c.files)], c.reparse)
			}
			b.ReportMetric(float64(s.Events), "events")
			b.ReportMetric(peakRSS(), "peak-MiB")
		})
	}
}

// peakRSS is the process's peak resident set size in MiB since
// resetPeakRSS (VmHWM), 0 where /proc does not tell.
func peakRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// resetPeakRSS returns the heap's free memory to the OS and resets the
// kernel's peak RSS mark.
func resetPeakRSS() {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// BenchmarkReadPyPI reads, hashes and groups the PyPI list (886k packages
// in one file, xz-compressed), whole in memory and through the spill, as an
// update does: ns/op and the peak RSS of each.
//
//	go test ./internal/ingest -run '^$' -bench ReadPyPI -benchtime 2x
func BenchmarkReadPyPI(b *testing.B) {
	src := filepath.Join("..", "..", "..", "shared", "data", "registries", "pypi.tsv.xz")
	if _, err := os.Stat(src); err != nil {
		b.Skipf("shared PyPI list not available: %v", err)
	}
	ctx := context.Background()
	h := hashing.New(hashing.DefaultSeed)
	b.Run("whole", func(b *testing.B) {
		resetPeakRSS()
		var n int
		for b.Loop() {
			snap, err := formats.ReadSnapshot(ctx, formats.TSV, []string{src})
			if err != nil {
				b.Fatal(err)
			}
			n = hashing.Group(h, snap.Packages).Packages
		}
		b.ReportMetric(float64(n), "packages")
		b.ReportMetric(peakRSS(), "peak-MiB")
	})
	b.Run("spilled", func(b *testing.B) {
		resetPeakRSS()
		var n int
		for b.Loop() {
			s, err := readSpilled(ctx, Params{Format: formats.TSV, Files: []string{src}}, h, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			n = s.grouped.Packages
			s.Close()
		}
		b.ReportMetric(float64(n), "packages")
		b.ReportMetric(peakRSS(), "peak-MiB")
	})
}
