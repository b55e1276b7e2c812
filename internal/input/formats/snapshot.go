package formats

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"time"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/internal/input/version"
)

// Snapshot is the content of one repository as read from its files.
type Snapshot struct {
	// Packages after overlays were applied: packages of the first file
	// that no later file replaced, in file order, then those of the next
	// file, and so on.
	Packages []events.Package
	// Files records every input file, in the order given, with the size
	// and sha256 of its raw (still compressed) bytes.
	Files []events.InputFile
	// Skipped counts skipped records over all files (see Stats.Skipped).
	Skipped int
	// SkippedLines locates the first 10 skipped records.
	SkippedLines []SkippedLine
	// Stale counts packages of a later file not applied because the
	// earlier files had a newer version of that name, by the
	// repository's own order.
	Stale int
}

// SkippedLine locates a skipped record.
type SkippedLine struct {
	File string
	Line int
}

// ReadSnapshot reads the files that together make one snapshot of one
// repository, in order, all of format f, decompressing them as Open does.
//
// A later file replaces every earlier package with the same Name — this is
// how a Debian suite combines with its -updates and -security overlays
// (bookworm, then bookworm-updates, then bookworm-security) — unless the
// earlier packages of that name have a newer version than the later file's:
// then the earlier ones are kept, as apt would, and the later ones are
// counted in Snapshot.Stale. (An overlay index can lag behind a point
// release that already includes a newer version; replacing blindly would
// downgrade.) Versions compare by the repository's own order: the scheme
// given WithVersionScheme, else the format's DefaultScheme. Within one file, several packages with the same name
// (several versions of one source) are all kept.
//
// Each file is read once: its sha256 and size are computed from the same
// bytes that are decompressed and parsed. Cancelling ctx stops the read and
// returns ctx.Err().
func ReadSnapshot(ctx context.Context, f Format, paths []string, opts ...Option) (*Snapshot, error) {
	keep := func(p *events.Package) (events.Package, error) { return *p, nil }
	name := func(p *events.Package) (string, string) { return p.Name, p.Version }
	read, err := ReadSnapshotFunc(ctx, f, paths, keep, name, opts...)
	if err != nil {
		return nil, err
	}
	return &Snapshot{Packages: read.Kept, Files: read.Files, Skipped: read.Skipped,
		SkippedLines: read.SkippedLines, Stale: read.Stale}, nil
}

// Read is a snapshot as ReadSnapshotFunc reads it: what its keep function
// made of each package, after the overlays, in Snapshot.Packages' order.
type Read[T any] struct {
	Kept []T
	// Files, Skipped, SkippedLines and Stale are Snapshot's.
	Files        []events.InputFile
	Skipped      int
	SkippedLines []SkippedLine
	Stale        int
}

// ReadSnapshotFunc is ReadSnapshot for a caller that does not hold the
// packages whole (a snapshot can be larger than the memory it may take):
// keep is called with each package as it is parsed and returns what is
// kept of it — a compact reference to a record spilled to disk, say — and
// name returns a kept value's package name and version, which is all the
// overlays compare. A package keep returned an error for stops the read
// with that error. name is only called for snapshots of several files.
func ReadSnapshotFunc[T any](ctx context.Context, f Format, paths []string,
	keep func(*events.Package) (T, error), name func(*T) (string, string), opts ...Option) (*Read[T], error) {
	if !slices.Contains(Formats(), f) {
		return nil, fmt.Errorf("%w %q (valid: %s)", ErrUnknownFormat, string(f), validNames())
	}
	o := newOptions(paths, opts)
	order := version.OrderOf(cmp.Or(o.scheme, DefaultScheme(f), version.SchemeGeneric))
	read := &Read[T]{}
	for i, path := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		read1 := readFile[T]
		if o.cache != nil && len(paths) > 1 {
			read1 = readCached[T]
		}
		kept, file, stats, err := read1(ctx, f, path, o, keep)
		if err != nil {
			return nil, err
		}
		read.Files = append(read.Files, file)
		read.Skipped += stats.Skipped
		for _, line := range stats.SkippedLines {
			if len(read.SkippedLines) < maxSkippedLines {
				read.SkippedLines = append(read.SkippedLines, SkippedLine{File: path, Line: line})
			}
		}
		if i == 0 {
			read.Kept = kept
			continue
		}
		var stale int
		read.Kept, stale = overlay(read.Kept, kept, name, order)
		read.Stale += stale
	}
	return read, nil
}

// HashFiles records each file at paths as ReadSnapshot does (size and
// sha256 of the raw bytes) without decompressing or parsing it: what an
// update pays to learn that its input is byte-identical to the last one.
// WithProgress reports the bytes hashed.
func HashFiles(ctx context.Context, paths []string, opts ...Option) ([]events.InputFile, error) {
	o := newOptions(paths, opts)
	files := make([]events.InputFile, 0, len(paths))
	for _, path := range paths {
		fh, err := openInput(ctx, path)
		if err != nil {
			return nil, err
		}
		hr := &hashingReader{o: o, r: fh, h: sha256.New()}
		_, err = io.Copy(io.Discard, hr)
		fh.Close()
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
			return nil, &ParseError{File: path, Err: err}
		}
		files = append(files, hr.file(path))
	}
	return files, nil
}

// inputFile is an input file read under a context: once the context is
// done, every Read fails with its error, and a Read blocked on a pipe or a
// FIFO that nothing writes to returns at once.
type inputFile struct {
	ctx  context.Context
	f    *os.File
	stop func() bool
}

// openInput opens the file at path for reading under ctx.
//
// Files on Linux that can block (pipes, FIFOs, sockets) are read through
// the runtime's poller, so a read deadline in the past wakes a blocked
// Read; regular files and devices such as /dev/zero never block, and the
// context check before each Read stops them.
func openInput(ctx context.Context, path string) (*inputFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	in := &inputFile{ctx: ctx, f: f}
	// SetReadDeadline fails on files without deadlines; those do not block.
	in.stop = context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	return in, nil
}

func (in *inputFile) Read(p []byte) (int, error) {
	if err := in.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := in.f.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		if ctxErr := in.ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
	}
	return n, err
}

// Close releases the file.
func (in *inputFile) Close() error {
	in.stop()
	return in.f.Close()
}

// DefaultScheme is the version scheme of a format's repositories when none
// is given: Debian's for Debian indexes, the generic order for JSON lines.
// A TSV registry list has none (its registry's scheme, pypi or semver, must
// be given): it returns "".
func DefaultScheme(f Format) version.Scheme {
	switch f {
	case DebianSources, DebianPackages:
		return version.SchemeDebian
	case JSONL:
		return version.SchemeGeneric
	}
	return ""
}

// overlay replaces every package of base whose name occurs in pkgs by the
// packages of that name in pkgs, unless the ones base has are newer; it
// returns the packages kept and how many of pkgs were stale.
func overlay[T any](base, pkgs []T, name func(*T) (string, string), order version.Order) ([]T, int) {
	newest := func(list []T) map[string]string {
		out := map[string]string{}
		for i := range list {
			n, v := name(&list[i])
			if cur, ok := out[n]; !ok || order.Compare(cur, v) < 0 {
				out[n] = v
			}
		}
		return out
	}
	incoming := newest(pkgs)
	existing := newest(base)
	keepOld := map[string]bool{}
	for n, v := range incoming {
		if old, ok := existing[n]; ok && order.Compare(v, old) < 0 {
			keepOld[n] = true
		}
	}
	base = slices.DeleteFunc(base, func(p T) bool {
		n, _ := name(&p)
		_, replaced := incoming[n]
		return replaced && !keepOld[n]
	})
	stale := 0
	for i := range pkgs {
		if n, _ := name(&pkgs[i]); keepOld[n] {
			stale++
			continue
		}
		base = append(base, pkgs[i])
	}
	return base, stale
}

// Option configures ReadSnapshot.
type Option func(*options)

type options struct {
	progress    func(done, total int64)
	done, total int64
	scheme      version.Scheme
	cache       *ParseCache
}

// advance reports n more raw bytes read.
func (o *options) advance(n int64) {
	if o.progress != nil {
		o.done += n
		o.progress(o.done, o.total)
	}
}

// WithVersionScheme sets the version scheme whose order decides which of
// two versions of a name an overlay keeps (default: DefaultScheme of the
// format, else the generic order).
func WithVersionScheme(s version.Scheme) Option {
	return func(o *options) { o.scheme = s }
}

// newOptions applies opts; with progress, the total is the size of the
// files at paths.
func newOptions(paths []string, opts []Option) *options {
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	if o.progress != nil {
		for _, path := range paths {
			if st, err := os.Stat(path); err == nil {
				o.total += st.Size()
			}
		}
	}
	return o
}

// WithProgress has ReadSnapshot report, as it reads, how many raw (still
// compressed) bytes of all files it has read, out of their total size.
func WithProgress(fn func(done, total int64)) Option {
	return func(o *options) { o.progress = fn }
}

// hashingReader hashes and counts the raw bytes of a file as they are read.
type hashingReader struct {
	o *options
	r io.Reader
	h hash.Hash
	n int64
}

func (hr *hashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	hr.n += int64(n)
	if hr.o != nil && n > 0 {
		hr.o.advance(int64(n))
	}
	return n, err
}

// file records the file at path from the bytes read so far.
func (hr *hashingReader) file(path string) events.InputFile {
	return events.InputFile{Path: path, SHA256: hex.EncodeToString(hr.h.Sum(nil)), Bytes: hr.n}
}

// ctxCheckEvery is how many packages are parsed between checks of ctx.
const ctxCheckEvery = 4096

func readFile[T any](ctx context.Context, f Format, path string, o *options, keep func(*events.Package) (T, error)) ([]T, events.InputFile, Stats, error) {
	var file events.InputFile
	fh, err := openInput(ctx, path)
	if err != nil {
		return nil, file, Stats{}, err
	}
	defer fh.Close()
	hr := &hashingReader{o: o, r: fh, h: sha256.New()}
	rc, err := decompress(ctx, hr, path, xzBinary())
	if err != nil {
		return nil, file, Stats{}, err
	}
	defer rc.Close()

	var kept []T
	stats, err := Parse(rc, path, f, func(p events.Package) error {
		if len(kept)%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		k, err := keep(&p)
		if err != nil {
			return err
		}
		kept = append(kept, k)
		return nil
	})
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, file, stats, ctxErr
		}
		return nil, file, stats, rootCause(err, rc)
	}
	if err := rc.Close(); err != nil {
		return nil, file, stats, err
	}
	// Decoders may stop before the end of the raw file; the checksum
	// covers all of it.
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return nil, file, stats, &ParseError{File: path, Err: err}
	}
	return slices.Clip(kept), hr.file(path), stats, nil
}

// maxTrailingRead bounds how much decompressed input rootCause reads past a
// parse error, looking for the decoder's verdict: 4 MiB, a few
// milliseconds of decompression. A truncated or corrupt stream that
// garbles the data the parser sees is almost always reported by the
// decoder within this much (a truncated file at its end, a bad LZMA
// sequence as soon as it is decoded); a corruption that only a block's
// checksum at the end of a large file reveals is then reported as the
// parse error it caused, still naming file and line.
const maxTrailingRead = 4 << 20

// rootCause returns the decompression error behind a parse error, if there
// is one. Decoders check integrity at the end of a block, after they have
// handed out its data, so corrupt input usually shows first as a strange
// parse error; reading on a little, to the decoder's verdict, names the
// real problem. Uncompressed input has no decoder to ask: its parse error
// is returned at once, however much input follows (an endless pipe,
// /dev/zero).
func rootCause(parseErr error, rc io.Reader) error {
	if _, ok := errors.AsType[*ParseError](parseErr); !ok || errors.Is(parseErr, ErrCorrupt) {
		return parseErr
	}
	if !isDecoder(rc) {
		return parseErr
	}
	if _, err := io.CopyN(io.Discard, rc, maxTrailingRead); errors.Is(err, ErrCorrupt) {
		return err
	}
	return parseErr
}
