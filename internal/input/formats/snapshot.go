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
	if !slices.Contains(Formats(), f) {
		return nil, fmt.Errorf("%w %q (valid: %s)", ErrUnknownFormat, string(f), validNames())
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.progress != nil {
		var total int64
		for _, path := range paths {
			if st, err := os.Stat(path); err == nil {
				total += st.Size()
			}
		}
		o.total = total
	}
	scheme := cmp.Or(o.scheme, DefaultScheme(f), version.SchemeGeneric)
	order := version.OrderOf(scheme)
	snap := &Snapshot{}
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pkgs, file, stats, err := readFile(ctx, f, path, &o)
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
		snap.overlay(pkgs, order)
	}
	return snap, nil
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

// overlay replaces every package whose Name occurs in pkgs by the packages
// of that name in pkgs, unless the ones it has are newer by the
// repository's own order (dpkg's for Debian, as apt picks a version from
// several sources).
func (s *Snapshot) overlay(pkgs []events.Package, order version.Order) {
	if len(s.Packages) == 0 {
		s.Packages = pkgs
		return
	}
	newest := func(list []events.Package) map[string]string {
		out := map[string]string{}
		for i := range list {
			v := list[i].Version
			if cur, ok := out[list[i].Name]; !ok || order.Compare(cur, v) < 0 {
				out[list[i].Name] = v
			}
		}
		return out
	}
	incoming := newest(pkgs)
	existing := newest(s.Packages)
	keepOld := map[string]bool{}
	for name, v := range incoming {
		if old, ok := existing[name]; ok && order.Compare(v, old) < 0 {
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
	scheme      version.Scheme
}

// WithVersionScheme sets the version scheme whose order decides which of
// two versions of a name an overlay keeps (default: DefaultScheme of the
// format, else the generic order).
func WithVersionScheme(s version.Scheme) Option {
	return func(o *options) { o.scheme = s }
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
	file = events.InputFile{Path: path, SHA256: hex.EncodeToString(hr.h.Sum(nil)), Bytes: hr.n}
	return slices.Clip(pkgs), file, stats, nil
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
