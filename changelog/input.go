package changelog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/version"
	dlsql "github.com/deltalog/deltalog/sql"
)

// InputParams says how a snapshot of a repository would be read, before it
// is: with which seed and version scheme, and whether Force is given.
type InputParams struct {
	Repo          string
	Seed          uint64
	VersionScheme version.Scheme
	Force         bool
}

// LastInput is the input of a repository's last batch, when reading the
// same bytes again can change nothing: the stored state is still the one
// that batch left (its state checksum), no packageset of the repository is
// invalidated or waits for an invalidation to be claimed, and the seed,
// hash algorithm and version scheme are those the batch was computed with.
type LastInput struct {
	// Batch is the last batch, Files what it was read from.
	Batch int64
	Files []events.InputFile
	// result is what an update from the same bytes returns.
	result UpdateResult
}

// Same reports whether files are the last batch's, in the same order, byte
// for byte (by sha256 and size).
func (l *LastInput) Same(files []events.InputFile) bool {
	if len(files) != len(l.Files) {
		return false
	}
	for i := range files {
		if files[i].SHA256 != l.Files[i].SHA256 || files[i].Bytes != l.Files[i].Bytes {
			return false
		}
	}
	return true
}

// Result is what an update from the last batch's bytes returns: nothing
// written, every packageset unchanged, the repository's counts as stored
// and the skipped rows and duplicates its batch counted.
func (l *LastInput) Result() *UpdateResult {
	r := l.result
	return &r
}

// LastInput returns the input of p.Repo's last batch when an update from
// the same bytes could change nothing, and nil when it could (no batch
// yet, a change of seed, algorithm or version scheme, invalidated
// packagesets, a state changed since, or an empty repository without
// Force, which the size guard refuses). It reads one row per table and
// takes no lock: a concurrent update makes the answer the one from before
// it.
func (u *Updater) LastInput(ctx context.Context, p InputParams) (*LastInput, error) {
	if p.VersionScheme == "" {
		p.VersionScheme = version.SchemeGeneric
	}
	var (
		l                         LastInput
		files, counts             []byte
		repoState, batchState     int64
		repoSeed, batchSeed       int64
		repoVersion, batchVersion int
		repoScheme, batchScheme   string
		repoOrder                 int
		invalidated               bool
		states                    []int64
	)
	err := u.db.QueryRow(ctx, dlsql.Query("repo-last-input"), p.Repo).Scan(
		&l.result.Counts.Packages, &l.result.Counts.Packagesets, &repoState, &repoSeed, &repoVersion, &repoScheme,
		&repoOrder, &l.Batch, &files, &counts, &batchState, &batchSeed, &batchVersion, &batchScheme,
		&invalidated, &l.result.HeadSeq, &states)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("update %s: reading the last input: %w", p.Repo, err)
	}
	if invalidated || repoState != batchState ||
		uint64(repoSeed) != p.Seed || uint64(batchSeed) != p.Seed ||
		repoVersion != hashing.AlgorithmVersion || batchVersion != hashing.AlgorithmVersion ||
		repoScheme != string(p.VersionScheme) || batchScheme != string(p.VersionScheme) ||
		// Keys computed with another version order re-derive (diff.go).
		repoOrder != version.OrderVersion ||
		(l.result.Counts.Packages == 0 && !p.Force) {
		return nil, nil
	}
	if err := json.Unmarshal(files, &l.Files); err != nil {
		return nil, fmt.Errorf("update %s: batch %d: files: %w", p.Repo, l.Batch, err)
	}
	var last events.Counts
	if err := json.Unmarshal(counts, &last); err != nil {
		return nil, fmt.Errorf("update %s: batch %d: counts: %w", p.Repo, l.Batch, err)
	}
	c := &l.result.Counts
	c.Unchanged, c.Skipped, c.Duplicates = c.Packagesets, last.Skipped, last.Duplicates
	var global hashing.State
	for _, s := range states {
		global = global.Add(hashing.Sum(s))
	}
	l.result.Repo = p.Repo
	l.result.RepoStateChecksum, l.result.GlobalStateChecksum = hashing.Sum(repoState), global.Sum()
	return &l, nil
}
