// Package ingest runs one update end to end: read a snapshot's files, hash
// and group its packages, and apply it through the changelog, timing each
// phase. The CLI's update command is a thin wrapper around Run.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/deltalog/deltalog/changelog"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/formats"
	"github.com/deltalog/deltalog/internal/input/version"
)

// ErrNoVersionScheme is returned for an input format that has no default
// version scheme when none is given.
var ErrNoVersionScheme = errors.New("no version scheme")

// Params describes one update.
type Params struct {
	Repo   string
	Format formats.Format
	Files  []string
	Force  bool
	// Reparse reads and diffs the files even when they are byte-identical
	// to the input of the repository's last batch.
	Reparse bool
	// SpillDir is where the snapshot's full records wait while it is
	// diffed (a file removed at once, gone with the process); "" means the
	// system's temporary directory. Memory holds about 40 bytes a package.
	SpillDir string
	// ParseCache, when set, keeps what parsing each file of a snapshot of
	// several files gave (formats.ParseCache), so that a suite that did not
	// change under new overlays is decoded, not decompressed and parsed. An
	// update that read its files retains their entries for Repo.
	ParseCache *formats.ParseCache
	// Seed is the hash seed; zero means hashing.DefaultSeed.
	Seed uint64
	// VersionScheme orders versions; empty means formats.DefaultScheme
	// of Format (required for TSV lists: pypi or semver).
	VersionScheme version.Scheme
	// PhaseFunc, when set, is called as each phase starts ("read", "diff",
	// "write"), for progress display.
	PhaseFunc func(phase string)
	// ProgressFunc, when set, receives the raw bytes read of all input
	// files and their total, possibly from another goroutine.
	ProgressFunc func(done, total int64)
}

// Summary is the outcome of an update, as printed by `deltalog update`.
type Summary struct {
	Repo        string   `json:"repo"`
	Batch       int64    `json:"batch"`
	Files       []string `json:"files"`
	Packages    int      `json:"packages"`
	Packagesets int      `json:"packagesets"`
	Added       int      `json:"added"`
	Changed     int      `json:"changed"`
	Removed     int      `json:"removed"`
	Unchanged   int      `json:"unchanged"`
	Invalidated int      `json:"invalidated"`
	// ParseSkipped says the files were byte-identical to the input of
	// the last batch (BatchOfInput) and nothing since could make them read
	// differently: they were hashed, not parsed, and nothing was diffed.
	ParseSkipped      bool     `json:"parse_skipped"`
	BatchOfInput      int64    `json:"batch_of_input,omitempty"`
	Skipped           int      `json:"skipped"`
	SkippedLines      []string `json:"skipped_lines,omitempty"`
	Duplicates        int      `json:"duplicates"`
	DuplicateSamples  []string `json:"duplicate_samples,omitempty"`
	Events            int      `json:"events"`
	FirstSeq          int64    `json:"first_seq,omitempty"`
	HeadSeq           int64    `json:"head_seq"`
	StateChecksum     string   `json:"state_checksum"`
	RepoStateChecksum string   `json:"repo_state_checksum"`
	ParseSeconds      float64  `json:"parse_seconds"`
	DiffSeconds       float64  `json:"diff_seconds"`
	WriteSeconds      float64  `json:"write_seconds"`
	ProjectSeconds    *float64 `json:"project_seconds,omitempty"`
	Seconds           float64  `json:"seconds"`
	result            *changelog.UpdateResult
}

// Result is the changelog's view of the update.
func (s *Summary) Result() *changelog.UpdateResult { return s.result }

// Run reads, hashes and applies one snapshot.
func Run(ctx context.Context, u *changelog.Updater, p Params) (*Summary, error) {
	start := time.Now()
	// Before anything names the repository (or a transaction starts): a
	// name the schema cannot index fails here, not in the database.
	if err := formats.ValidateRepo(p.Repo); err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	if p.Seed == 0 {
		p.Seed = hashing.DefaultSeed
	}
	phase := func(name string) {
		if p.PhaseFunc != nil {
			p.PhaseFunc(name)
		}
	}
	if p.VersionScheme == "" {
		p.VersionScheme = formats.DefaultScheme(p.Format)
	}
	if p.VersionScheme == "" {
		return nil, fmt.Errorf("update %s: %w: a %s list needs its registry's version scheme (--version-scheme pypi or semver)",
			p.Repo, ErrNoVersionScheme, p.Format)
	}
	p.VersionScheme = version.Canonical(p.VersionScheme)
	if len(p.Files) == 0 {
		return nil, fmt.Errorf("update %s: no input files", p.Repo)
	}

	phase("read")
	if !p.Reparse {
		s, err := sameInput(ctx, u, p, start)
		if s != nil || err != nil {
			return s, err
		}
	}
	opts := []formats.Option{formats.WithVersionScheme(p.VersionScheme)}
	if p.ProgressFunc != nil {
		opts = append(opts, formats.WithProgress(p.ProgressFunc))
	}
	if p.ParseCache != nil {
		opts = append(opts, formats.WithParseCache(p.ParseCache))
	}
	h := hashing.New(p.Seed)
	snap, err := readSpilled(ctx, p, h, p.SpillDir, opts...)
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	parsed := time.Now()

	phase("diff")
	res, err := u.Update(ctx, changelog.UpdateParams{
		Repo: p.Repo, Snapshot: snap.grouped, Load: snap.load, Seed: p.Seed, VersionScheme: p.VersionScheme,
		Files: snap.read.Files, Skipped: snap.read.Skipped, Force: p.Force, StartedAt: start, ParseTime: parsed.Sub(start),
	})
	if err != nil {
		return nil, err
	}
	if p.ParseCache != nil && len(p.Files) > 1 {
		if err := p.ParseCache.Retain(p.Repo, p.Format, snap.read.Files); err != nil {
			return nil, err
		}
	}

	s := summarize(p, res)
	s.ParseSeconds = parsed.Sub(start).Seconds()
	for _, l := range snap.read.SkippedLines {
		s.SkippedLines = append(s.SkippedLines, fmt.Sprintf("%s:%d", l.File, l.Line))
	}
	for i, d := range snap.grouped.Duplicates {
		if i == 5 {
			break
		}
		s.DuplicateSamples = append(s.DuplicateSamples, fmt.Sprintf("%s %s (%d copies)", d.Name, d.Version, d.Copies))
	}
	s.Seconds = time.Since(start).Seconds()
	return s, nil
}

// sameInput returns the summary of an update whose files are byte-identical
// to the input of the repository's last batch, when nothing since can make
// them read differently (see changelog.Updater.LastInput); nil when they
// must be read. The files' sizes are compared before their content is
// hashed, so a changed file usually costs a stat.
func sameInput(ctx context.Context, u *changelog.Updater, p Params, start time.Time) (*Summary, error) {
	last, err := u.LastInput(ctx, changelog.InputParams{Repo: p.Repo, Seed: p.Seed, VersionScheme: p.VersionScheme, Force: p.Force})
	if err != nil || last == nil || len(last.Files) != len(p.Files) {
		return nil, err
	}
	for i, path := range p.Files {
		if st, err := os.Stat(path); err != nil || st.Size() != last.Files[i].Bytes {
			return nil, nil
		}
	}
	files, err := formats.HashFiles(ctx, p.Files)
	if err != nil || !last.Same(files) {
		return nil, err
	}
	s := summarize(p, last.Result())
	s.ParseSkipped, s.BatchOfInput = true, last.Batch
	s.ParseSeconds = time.Since(start).Seconds()
	s.Seconds = s.ParseSeconds
	return s, nil
}

// summarize is the part of a Summary the changelog's result tells.
func summarize(p Params, res *changelog.UpdateResult) *Summary {
	return &Summary{
		Repo: p.Repo, Batch: res.Batch, Files: p.Files,
		Packages: res.Counts.Packages, Packagesets: res.Counts.Packagesets,
		Added: res.Counts.Added, Changed: res.Counts.Changed, Removed: res.Counts.Removed,
		Unchanged: res.Counts.Unchanged, Invalidated: res.Counts.Invalidated,
		Skipped: res.Counts.Skipped, Duplicates: res.Counts.Duplicates, Events: res.Counts.Events,
		FirstSeq: res.FirstSeq, HeadSeq: res.HeadSeq,
		StateChecksum:     res.GlobalStateChecksum.String(),
		RepoStateChecksum: res.RepoStateChecksum.String(),
		DiffSeconds:       res.DiffTime.Seconds(),
		WriteSeconds:      res.WriteTime.Seconds(),
		result:            res,
	}
}
