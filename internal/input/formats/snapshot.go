package formats

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"

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
	// earlier files had a newer version of that name.
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
// downgrade.) Within one file, several packages with the same name
// (several versions of one source) are all kept.
//
// Each file is read once: its sha256 and size are computed from the same
// bytes that are decompressed and parsed. Cancelling ctx stops the read and
// returns ctx.Err().
func ReadSnapshot(ctx context.Context, f Format, paths []string, opts ...Option) (*Snapshot, error) {
	if !slices.Contains(Formats(), f) {
		return nil, fmt.Errorf("%w %q (valid: %s)", ErrUnknownFormat, string(f), validNames())
	}
	o := newOptions(paths, opts)
	snap := &Snapshot{}
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pkgs, file, stats, err := readFile(ctx, f, path, o)
		if err != nil {
			return nil, err
		}
		snap.Files = append(snap.Files, file)
		snap.Skipped += stats.Skipped
		for _, line := range stats.SkippedLines {
			if len(snap.SkippedLines) < maxSkippedLines {
				snap.SkippedLines = append(snap.SkippedLines, SkippedLine{File: path, Line: line})
			}
		}
		snap.overlay(pkgs, schemeOf(f))
	}
	return snap, nil
}

// HashFiles records each file at paths as ReadSnapshot does (size and
// sha256 of the raw bytes) without decompressing or parsing it: what an
// update pays to learn that its input is byte-identical to the last one.
// WithProgress reports the bytes hashed.
func HashFiles(ctx context.Context, paths []string, opts ...Option) ([]events.InputFile, error) {
	o := newOptions(paths, opts)
	files := make([]events.InputFile, 0, len(paths))
	for _, path := range paths {
		fh, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		hr := &hashingReader{o: o, r: fh, h: sha256.New()}
		_, err = io.Copy(io.Discard, &ctxReader{ctx: ctx, r: hr})
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

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// schemeOf is the version order used to compare an overlay with its base.
func schemeOf(f Format) version.Scheme {
	if f == DebianSources || f == DebianPackages {
		return version.SchemeDebian
	}
	return version.SchemeGeneric
}

// overlay replaces every package whose Name occurs in pkgs by the packages
// of that name in pkgs, unless the ones it has are newer.
func (s *Snapshot) overlay(pkgs []events.Package, scheme version.Scheme) {
	if len(s.Packages) == 0 {
		s.Packages = pkgs
		return
	}
	// A scheme may compare upstream versions only (Debian's drops the
	// revision, as cross-repository comparison wants); between an overlay
	// and its base the revision decides, so ties go to the generic order
	// of the whole version string.
	type rank struct{ key, whole []byte }
	less := func(a, b rank) bool {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c < 0
		}
		return bytes.Compare(a.whole, b.whole) < 0
	}
	newest := func(list []events.Package) map[string]rank {
		out := map[string]rank{}
		for i := range list {
			v := list[i].Version
			r := rank{version.SchemeKey(scheme, v), version.Key(v)}
			if cur, ok := out[list[i].Name]; !ok || less(cur, r) {
				out[list[i].Name] = r
			}
		}
		return out
	}
	incoming := newest(pkgs)
	existing := newest(s.Packages)
	keepOld := map[string]bool{}
	for name, k := range incoming {
		if old, ok := existing[name]; ok && less(k, old) {
			keepOld[name] = true
		}
	}
	s.Packages = slices.DeleteFunc(s.Packages, func(p events.Package) bool {
		_, replaced := incoming[p.Name]
		return replaced && !keepOld[p.Name]
	})
	for i := range pkgs {
		if keepOld[pkgs[i].Name] {
			s.Stale++
			continue
		}
		s.Packages = append(s.Packages, pkgs[i])
	}
}

// Option configures ReadSnapshot.
type Option func(*options)

type options struct {
	progress    func(done, total int64)
	done, total int64
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
	if hr.o != nil && hr.o.progress != nil && n > 0 {
		hr.o.done += int64(n)
		hr.o.progress(hr.o.done, hr.o.total)
	}
	return n, err
}

// file records the file at path from the bytes read so far.
func (hr *hashingReader) file(path string) events.InputFile {
	return events.InputFile{Path: path, SHA256: hex.EncodeToString(hr.h.Sum(nil)), Bytes: hr.n}
}

// ctxCheckEvery is how many packages are parsed between checks of ctx.
const ctxCheckEvery = 4096

func readFile(ctx context.Context, f Format, path string, o *options) ([]events.Package, events.InputFile, Stats, error) {
	var file events.InputFile
	fh, err := os.Open(path)
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

	var pkgs []events.Package
	stats, err := Parse(rc, path, f, func(p events.Package) error {
		if len(pkgs)%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		pkgs = append(pkgs, p)
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
	return slices.Clip(pkgs), hr.file(path), stats, nil
}

// rootCause returns the decompression error behind a parse error, if there
// is one. Decoders check integrity at the end of a block, after they have
// handed out its data, so corrupt input usually shows first as a strange
// parse error; reading on to the decoder's verdict names the real problem.
func rootCause(parseErr error, rc io.Reader) error {
	if _, ok := errors.AsType[*ParseError](parseErr); !ok || errors.Is(parseErr, ErrCorrupt) {
		return parseErr
	}
	if _, err := io.Copy(io.Discard, rc); errors.Is(err, ErrCorrupt) {
		return err
	}
	return parseErr
}
