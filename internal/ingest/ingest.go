// Package ingest runs one update end to end: read a snapshot's files, hash
// and group its packages, and apply it through the changelog, timing each
// phase. The CLI's update command is a thin wrapper around Run.
package ingest

import (
	"context"
	"errors"
	"fmt"
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
	Repo              string   `json:"repo"`
	Batch             int64    `json:"batch"`
	Files             []string `json:"files"`
	Packages          int      `json:"packages"`
	Packagesets       int      `json:"packagesets"`
	Added             int      `json:"added"`
	Changed           int      `json:"changed"`
	Removed           int      `json:"removed"`
	Unchanged         int      `json:"unchanged"`
	Invalidated       int      `json:"invalidated"`
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
	opts := []formats.Option{formats.WithVersionScheme(p.VersionScheme)}
	if p.ProgressFunc != nil {
		opts = append(opts, formats.WithProgress(p.ProgressFunc))
	}
	snap, err := formats.ReadSnapshot(ctx, p.Format, p.Files, opts...)
	if err != nil {
		return nil, err
	}
	grouped := hashing.Group(hashing.New(p.Seed), snap.Packages)
	parsed := time.Now()

	phase("diff")
	res, err := u.Update(ctx, changelog.UpdateParams{
		Repo: p.Repo, Snapshot: grouped, Seed: p.Seed, VersionScheme: p.VersionScheme, Files: snap.Files,
		Skipped: snap.Skipped, Force: p.Force, StartedAt: start,
	})
	if err != nil {
		return nil, err
	}

	s := &Summary{
		Repo: p.Repo, Batch: res.Batch, Files: p.Files,
		Packages: res.Counts.Packages, Packagesets: res.Counts.Packagesets,
		Added: res.Counts.Added, Changed: res.Counts.Changed, Removed: res.Counts.Removed,
		Unchanged: res.Counts.Unchanged, Invalidated: res.Counts.Invalidated,
		Skipped: res.Counts.Skipped, Duplicates: res.Counts.Duplicates, Events: res.Counts.Events,
		FirstSeq: res.FirstSeq, HeadSeq: res.HeadSeq,
		StateChecksum:     res.GlobalStateChecksum.String(),
		RepoStateChecksum: res.RepoStateChecksum.String(),
		ParseSeconds:      parsed.Sub(start).Seconds(),
		DiffSeconds:       res.DiffTime.Seconds(),
		WriteSeconds:      res.WriteTime.Seconds(),
		result:            res,
	}
	for _, l := range snap.SkippedLines {
		s.SkippedLines = append(s.SkippedLines, fmt.Sprintf("%s:%d", l.File, l.Line))
	}
	for i, d := range grouped.Duplicates {
		if i == 5 {
			break
		}
		s.DuplicateSamples = append(s.DuplicateSamples, fmt.Sprintf("%s %s (%d copies)", d.Name, d.Version, d.Copies))
	}
	s.Seconds = time.Since(start).Seconds()
	return s, nil
}
