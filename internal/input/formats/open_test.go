package formats

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"

	"github.com/deltalog/deltalog/events"
)

type decoder struct {
	name string
	bin  string // xz program; "" for the pure-Go reader
}

// xzDecoders returns both xz decoders, or only the pure-Go one when there is
// no xz program.
func xzDecoders(t testing.TB) []decoder {
	ds := []decoder{{name: "purego"}}
	if bin := xzBinary(); bin != "" {
		ds = append(ds, decoder{name: "binary", bin: bin})
	} else {
		t.Log("no xz program: testing the pure-Go decoder only")
	}
	return ds
}

func decompressBytes(t testing.TB, raw []byte, name, bin string) ([]byte, error) {
	t.Helper()
	rc, err := decompress(context.Background(), bytes.NewReader(raw), name, bin)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestDecompressXZ(t *testing.T) {
	t.Parallel()
	// sha256_uncompressed from the shared data's MANIFEST.tsv.
	for file, want := range map[string]string{
		"bookworm-updates-main-Sources.xz":        "49e607c6d5dbdc679b1f25fde5da4e94437e2afd8e659b1f11489046ee0034a2",
		"bookworm-updates-main-Packages-amd64.xz": "80a1f6ee524222c49f230fc5700d00f946d0a47eb5258180106dd03df126e16a",
	} {
		raw, err := os.ReadFile(fixture(file))
		require.NoError(t, err)
		for _, d := range xzDecoders(t) {
			got, err := decompressBytes(t, raw, file, d.bin)
			require.NoError(t, err, d.name)
			require.Equal(t, want, sha256Hex(got), "%s with %s", file, d.name)
		}
	}
}

func TestOpenDetectsByContent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	want := readFixture(t, "bookworm-main-Packages-amd64.gz")
	require.True(t, bytes.HasPrefix(want, []byte("Package: 0ad\n")))

	for name, content := range map[string][]byte{
		"gzip-named-xz.xz": mustRead(t, fixture("bookworm-main-Packages-amd64.gz")),
		"xz-no-suffix":     mustRead(t, fixture("bookworm-main-Packages-amd64.gz")),
		"plain.gz":         want,
	} {
		if name == "xz-no-suffix" {
			var err error
			content, err = compressXZ(want)
			require.NoError(t, err)
		}
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, content, 0o644))
		rc, err := Open(path)
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		require.NoError(t, err, name)
		require.NoError(t, rc.Close())
		require.Equal(t, sha256Hex(want), sha256Hex(got), name)
	}
}

// compressXZ compresses with the pure-Go writer, so the test does not depend
// on the xz program.
func compressXZ(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestOpenMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Open(filepath.Join(t.TempDir(), "absent.xz"))
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestOpenEmptyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	rc, err := Open(path)
	require.NoError(t, err)
	defer rc.Close()
	stats, err := Parse(rc, path, DebianSources, func(events.Package) error { return nil })
	require.NoError(t, err)
	require.Zero(t, stats.Packages)
}

// TestTruncatedAndCorrupt checks that damaged compressed input is an error
// naming the file, both from Open alone and through Parse, with every
// decoder. Cutting only the last bytes is the dangerous case: all the data
// is there, only the stream's footer and check are missing.
func TestTruncatedAndCorrupt(t *testing.T) {
	t.Parallel()
	xzRaw := mustRead(t, fixture("bookworm-main-Sources.xz"))
	gzRaw := mustRead(t, fixture("bookworm-main-Packages-amd64.gz"))
	flip := func(b []byte, at int) []byte {
		b = bytes.Clone(b)
		b[at] ^= 0x55
		return b
	}
	type damaged struct {
		name   string
		raw    []byte
		format Format
		bins   []decoder
	}
	var cases []damaged
	for _, d := range xzDecoders(t) {
		cases = append(cases,
			damaged{"xz-half-" + d.name, xzRaw[:len(xzRaw)/2], DebianSources, []decoder{d}},
			damaged{"xz-footer-" + d.name, xzRaw[:len(xzRaw)-8], DebianSources, []decoder{d}},
			damaged{"xz-header-only-" + d.name, xzRaw[:12], DebianSources, []decoder{d}},
			damaged{"xz-flipped-" + d.name, flip(xzRaw, len(xzRaw)/2), DebianSources, []decoder{d}},
		)
	}
	cases = append(cases,
		damaged{"gz-half", gzRaw[:len(gzRaw)/2], DebianPackages, nil},
		damaged{"gz-trailer", gzRaw[:len(gzRaw)-4], DebianPackages, nil},
		damaged{"gz-flipped", flip(gzRaw, len(gzRaw)/2), DebianPackages, nil},
		damaged{"gz-magic-only", gzRaw[:2], DebianPackages, nil},
	)
	dir := t.TempDir()
	for _, tc := range cases {
		path := filepath.Join(dir, tc.name)
		require.NoError(t, os.WriteFile(path, tc.raw, 0o644))
		bin := ""
		if len(tc.bins) > 0 {
			bin = tc.bins[0].bin
		}

		// Reading the decompressed stream to its end fails.
		_, err := decompressBytes(t, tc.raw, path, bin)
		require.Error(t, err, tc.name)
		pe := requireParseError(t, err, path, 0, "", ErrCorrupt)
		require.Contains(t, pe.Error(), path)

		// So does parsing it, located at the line being read. A flipped
		// byte may show first as garbage the parser rejects (decoders
		// verify a block after handing out its data): rootCause, as used
		// by ReadSnapshot, then finds the decoder's verdict.
		rc, err := decompress(context.Background(), bytes.NewReader(tc.raw), path, bin)
		if err != nil {
			requireParseError(t, err, path, 0, "", ErrCorrupt)
			continue
		}
		_, err = Parse(rc, path, tc.format, func(events.Package) error { return nil })
		require.Error(t, err, tc.name)
		var perr *ParseError
		require.ErrorAs(t, err, &perr)
		require.Equal(t, path, perr.File)
		if errors.Is(err, ErrCorrupt) {
			require.Positive(t, perr.Line, tc.name)
		} else {
			t.Logf("%s: parse error before the decoder's: %v", tc.name, err)
			err = rootCause(err, rc)
		}
		require.NoError(t, rc.Close())
		require.ErrorIs(t, err, ErrCorrupt, tc.name)
		require.ErrorAs(t, err, &perr)
		require.Equal(t, path, perr.File)
	}

	// Open uses the same decoders.
	path := filepath.Join(dir, "xz-footer-purego")
	rc, err := Open(path)
	require.NoError(t, err)
	_, err = io.ReadAll(rc)
	require.NoError(t, rc.Close())
	requireParseError(t, err, path, 0, "", ErrCorrupt)
}

func TestUnsupportedCompression(t *testing.T) {
	t.Parallel()
	for name, raw := range map[string][]byte{
		"zstd":  {0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x58},
		"bzip2": []byte("BZh91AY&SY"),
	} {
		_, err := decompressBytes(t, raw, name, "")
		requireParseError(t, err, name, 0, "", ErrUnsupportedCompression)
	}
	// Text that merely starts with "BZh" is text.
	got, err := decompressBytes(t, []byte("BZh is not bzip2\n"), "text", "")
	require.NoError(t, err)
	require.Equal(t, "BZh is not bzip2\n", string(got))
}

func TestCloseEarlyStopsXZ(t *testing.T) {
	t.Parallel()
	raw := mustRead(t, fixture("bookworm-main-Sources.xz"))
	for _, d := range xzDecoders(t) {
		rc, err := decompress(context.Background(), bytes.NewReader(raw), "x", d.bin)
		require.NoError(t, err)
		buf := make([]byte, 100)
		_, err = io.ReadFull(rc, buf)
		require.NoError(t, err)
		require.Equal(t, "Package: 0ad\n", string(buf[:13]))
		require.NoError(t, rc.Close(), d.name)
		// goleak in TestMain fails the run if the xz process's
		// goroutines outlive Close.
	}
}

func TestXZProgramMissingFallsBack(t *testing.T) {
	t.Parallel()
	raw := mustRead(t, fixture("bookworm-updates-main-Sources.xz"))
	got, err := decompressBytes(t, raw, "x", filepath.Join(t.TempDir(), "no-such-xz"))
	require.NoError(t, err)
	require.Equal(t, "49e607c6d5dbdc679b1f25fde5da4e94437e2afd8e659b1f11489046ee0034a2", sha256Hex(got))
}
