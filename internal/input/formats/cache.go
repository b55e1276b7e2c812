package formats

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
)

// A snapshot of several files is mostly a suite that rarely changes read
// with overlays that change every day (Debian's bookworm, then its
// -updates and -security). Decompressing and parsing the unchanged suite
// is most of such an update (xz alone: 0.6 s of bookworm's Sources), so a
// ParseCache keeps what parsing a file gave — its packages in their
// canonical encoding (hashing.AppendCanonical), which decodes to the same
// packages, and its skipped records — under the file's sha256 and format.
// A byte-identical file is then hashed and decoded, not decompressed and
// parsed. A snapshot of one file is not cached: when it is byte-identical
// to the last one, the update skips reading it at all (see package ingest).

// ParseCache is a directory of parsed files. Entries are written to a
// temporary name and renamed into place, so a reader sees a whole entry or
// none; an entry that does not decode is parsed again and rewritten.
// Retain bounds the directory to the files the owners read last.
type ParseCache struct {
	Dir string
}

// parseCacheVersion names the entries' layout and what the parsers make of
// a file: bump it when either changes, so that old entries are not used.
const parseCacheVersion = 1

// WithParseCache reads a snapshot of several files through c.
func WithParseCache(c *ParseCache) Option {
	return func(o *options) { o.cache = c }
}

func (c *ParseCache) name(f Format, sha string) string {
	return filepath.Join(c.Dir, fmt.Sprintf("%s.%s.v%d-%d", sha, f, parseCacheVersion, hashing.AlgorithmVersion))
}

// readCached reads path from the cache when an entry of its bytes is there,
// else parses it and writes the entry.
func readCached[T any](ctx context.Context, f Format, path string, o *options, keep func(*events.Package) (T, error)) ([]T, events.InputFile, Stats, error) {
	files, err := HashFiles(ctx, []string{path})
	if err != nil {
		return nil, events.InputFile{}, Stats{}, err
	}
	file := files[0]
	name := o.cache.name(f, file.SHA256)
	if kept, stats, err := replayEntry(ctx, name, keep); err == nil {
		file.Path = path
		o.advance(file.Bytes)
		return kept, file, stats, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		_ = os.Remove(name) // unreadable: parse again, and replace it
	}

	if err := os.MkdirAll(o.cache.Dir, 0o755); err != nil {
		return nil, file, Stats{}, fmt.Errorf("parse cache: %w", err)
	}
	tmp, err := os.CreateTemp(o.cache.Dir, ".entry-*")
	if err != nil {
		return nil, file, Stats{}, fmt.Errorf("parse cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // gone once renamed
	defer tmp.Close()
	w := bufio.NewWriterSize(tmp, 1<<20)
	var rec, n []byte
	kept, read, stats, err := readFile(ctx, f, path, o, func(p *events.Package) (T, error) {
		rec = hashing.AppendCanonical(rec[:0], p)
		n = binary.AppendUvarint(n[:0], uint64(len(rec)))
		if _, err := w.Write(append(n, rec...)); err != nil {
			var zero T
			return zero, fmt.Errorf("parse cache: %w", err)
		}
		return keep(p)
	})
	if err != nil {
		return nil, read, stats, err
	}
	if read.SHA256 != file.SHA256 {
		// The file changed between the two reads: what was parsed is the
		// newer content; keep no entry of it under the older checksum.
		return kept, read, stats, nil
	}
	trailer := binary.AppendUvarint(nil, 0) // an empty record ends the packages
	trailer = binary.AppendUvarint(trailer, uint64(stats.Skipped))
	trailer = binary.AppendUvarint(trailer, uint64(len(stats.SkippedLines)))
	for _, l := range stats.SkippedLines {
		trailer = binary.AppendUvarint(trailer, uint64(l))
	}
	if _, err := w.Write(trailer); err != nil {
		return nil, read, stats, fmt.Errorf("parse cache: %w", err)
	}
	if err := errors.Join(w.Flush(), tmp.Close()); err != nil {
		return nil, read, stats, fmt.Errorf("parse cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return nil, read, stats, fmt.Errorf("parse cache: %w", err)
	}
	return kept, read, stats, nil
}

// replayEntry passes the packages of the entry at name to keep, as parsing
// its file did.
func replayEntry[T any](ctx context.Context, name string, keep func(*events.Package) (T, error)) ([]T, Stats, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, Stats{}, err
	}
	defer fh.Close()
	r := bufio.NewReaderSize(fh, 1<<20)
	var (
		kept  []T
		stats Stats
		buf   []byte
		p     events.Package
	)
	for {
		if len(kept)%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, stats, err
			}
		}
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, stats, fmt.Errorf("parse cache %s: %w", name, err)
		}
		if n == 0 {
			break
		}
		buf = slices.Grow(buf[:0], int(n))[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, stats, fmt.Errorf("parse cache %s: %w", name, err)
		}
		if err := hashing.DecodeCanonical(buf, &p); err != nil {
			return nil, stats, fmt.Errorf("parse cache %s: %w", name, err)
		}
		k, err := keep(&p)
		if err != nil {
			return nil, stats, err
		}
		kept = append(kept, k)
	}
	skipped, err1 := binary.ReadUvarint(r)
	lines, err2 := binary.ReadUvarint(r)
	if err := errors.Join(err1, err2); err != nil || lines > maxSkippedLines {
		return nil, stats, fmt.Errorf("parse cache %s: bad trailer", name)
	}
	stats.Packages, stats.Skipped = len(kept), int(skipped)
	for range lines {
		l, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, stats, fmt.Errorf("parse cache %s: bad trailer", name)
		}
		stats.SkippedLines = append(stats.SkippedLines, int(l))
	}
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		return nil, stats, fmt.Errorf("parse cache %s: trailing bytes", name)
	}
	return slices.Clip(kept), stats, nil
}

// Retain records that owner (a repository) last read files, in format f,
// and removes the entries no owner's last read holds: the cache keeps, per
// repository, what its next update is likely to read again.
func (c *ParseCache) Retain(owner string, f Format, files []events.InputFile) error {
	owners := filepath.Join(c.Dir, "owners")
	if err := os.MkdirAll(owners, 0o755); err != nil {
		return fmt.Errorf("parse cache: %w", err)
	}
	var list strings.Builder
	for _, file := range files {
		fmt.Fprintln(&list, filepath.Base(c.name(f, file.SHA256)))
	}
	sum := sha256.Sum256([]byte(owner))
	if err := os.WriteFile(filepath.Join(owners, hex.EncodeToString(sum[:8])), []byte(list.String()), 0o644); err != nil {
		return fmt.Errorf("parse cache: %w", err)
	}
	held := map[string]bool{}
	lists, err := os.ReadDir(owners)
	if err != nil {
		return fmt.Errorf("parse cache: %w", err)
	}
	for _, l := range lists {
		b, err := os.ReadFile(filepath.Join(owners, l.Name()))
		if err != nil {
			return fmt.Errorf("parse cache: %w", err)
		}
		for name := range strings.Lines(string(b)) {
			held[strings.TrimSpace(name)] = true
		}
	}
	entries, err := os.ReadDir(c.Dir)
	if err != nil {
		return fmt.Errorf("parse cache: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".entry-") {
			// A writer's temporary entry: one left by a process that died
			// is removed once it is surely not being written.
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
				_ = os.Remove(filepath.Join(c.Dir, e.Name()))
			}
			continue
		}
		if e.Type().IsRegular() && !held[e.Name()] {
			if err := os.Remove(filepath.Join(c.Dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("parse cache: %w", err)
			}
		}
	}
	return nil
}
