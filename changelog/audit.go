package changelog

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deltalog/deltalog/events"
	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/input/version"
	dlsql "github.com/deltalog/deltalog/sql"
)

// Check is the outcome of one audit check: how many rows it compared, and
// the rows expected but missing, present but not expected (extra), and
// present with other values (differing), with a few samples of each. The
// projections' audit reports its derived tables in the same form.
type Check struct {
	Name      string   `json:"name"`
	Compared  int64    `json:"compared"`
	Missing   int64    `json:"missing"`
	Extra     int64    `json:"extra"`
	Differing int64    `json:"differing"`
	Samples   []Sample `json:"samples,omitempty"`
	// Skipped says why the check did not run; it then proves nothing.
	Skipped string `json:"skipped,omitempty"`
	// Note says what the check left aside on purpose (packagesets pending
	// re-derivation), or why a repair cannot fix it.
	Note string `json:"note,omitempty"`
	// Repaired counts what a repair changed (nil when none ran).
	Repaired *Repaired `json:"repaired,omitempty"`
	Seconds  float64   `json:"seconds"`
}

// Clean reports whether the check found nothing wrong (a skipped check is
// clean: see Skipped).
func (c Check) Clean() bool { return c.Missing+c.Extra+c.Differing == 0 }

// Sample is one wrong row: its key, the row expected (null when extra) and
// the row found (null when missing).
type Sample struct {
	Key      json.RawMessage `json:"key"`
	Expected json.RawMessage `json:"expected"`
	Actual   json.RawMessage `json:"actual"`
}

// Repaired counts the rows a repair deleted, inserted and updated, and the
// packagesets it left to the next update to re-state (Invalidated).
type Repaired struct {
	Deleted     int64 `json:"deleted"`
	Inserted    int64 `json:"inserted"`
	Updated     int64 `json:"updated"`
	Invalidated int64 `json:"invalidated,omitempty"`
}

// Rows is the number of rows the repair changed.
func (r Repaired) Rows() int64 { return r.Deleted + r.Inserted + r.Updated + r.Invalidated }

// AuditParams configures AuditState and RepairState.
type AuditParams struct {
	// Checkpoints maps each projection to its checkpoint: the changelog must
	// have no hole at or below any of them.
	Checkpoints map[string]int64
	// MaxSamples bounds the samples per check (default 5).
	MaxSamples int
}

// The names of the checks AuditState runs.
const (
	CheckPackages    = "packages"
	CheckPackagesets = "packagesets"
	CheckRepos       = "repos"
	CheckBuckets     = "repos.buckets"
	CheckSequence    = "changelog.sequence"
	CheckChain       = "changelog.chain"
	CheckReplay      = "changelog.replay"
)

// AuditState checks the current state and the changelog in tx:
//
//   - packages: every stored package re-hashed from its content (with its
//     repository's stored seed) equals its checksum, and its version key
//     equals the one the current code derives;
//   - packagesets: every packageset checksum and package count recomputed
//     from the checksums of its packages equals the stored one, and no
//     packageset lacks a row or has one without packages;
//   - repos: each repository's state checksum and counts recomputed from the
//     recomputed packagesets equal the stored ones, and so does the global
//     state checksum the last batch announced;
//   - repos.buckets: each repository's per-bucket states (Buckets)
//     recomputed from the recomputed packagesets equal the stored ones, and
//     every packageset's bucket column is the bucket Go computes (Bucket);
//   - changelog.sequence: seqs are dense from 1 to the head and below every
//     projection checkpoint, and every batch's range holds exactly its events;
//   - changelog.chain: per packageset, each event starts from the checksum
//     the previous one ended at, with kinds in a possible order;
//   - changelog.replay: replaying the events' checksums from seq 1 ends at
//     the stored packageset checksums.
//
// Each level is recomputed from the recomputed level below it, so a wrong
// row is reported at its own level, not again in every total above it.
// Packagesets marked invalid (invalidated, waiting for their repository's
// next update) are expected to carry stale derived columns and are left
// aside (Note). Run it in a REPEATABLE READ transaction: one consistent
// snapshot, no locks taken beyond reads.
func AuditState(ctx context.Context, tx pgx.Tx, p AuditParams) ([]Check, error) {
	a, err := newStateAudit(ctx, tx, p)
	if err != nil {
		return nil, err
	}
	return a.run(ctx, tx)
}

// LockForRepair takes, in tx, every repository's update lock and the
// changelog's append lock: until tx ends no update writes, so a repair reads
// and rewrites a state nobody else changes.
func LockForRepair(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, dlsql.Query("repair-lock-repos")); err != nil {
		return fmt.Errorf("locking repositories: %w", err)
	}
	if _, err := tx.Exec(ctx, dlsql.Query("repair-lock-head")); err != nil {
		return fmt.Errorf("locking changelog head: %w", err)
	}
	return nil
}

// RepairState runs AuditState's checks in tx and rewrites exactly what they
// found wrong in the current state:
//
//   - packagesets rows are set to the rows recomputed from their packages
//     (inserted, updated or deleted);
//   - repository state checksums, counts and per-bucket states are set to
//     the recomputed ones, and the last batch's global state checksum to
//     their sum;
//   - a package whose content no longer matches its checksum (or carries a
//     version key the current code would not derive) cannot be fixed from
//     the database alone: its packageset is invalidated, so that the next
//     update of its repository re-states it from the snapshot. The
//     invalidation is recorded (scope "audit") like any other.
//
// The changelog is append-only: holes and broken chains are reported, never
// rewritten. tx must hold LockForRepair's locks. The checks returned are
// those found before the repair, with Repaired set.
func RepairState(ctx context.Context, tx pgx.Tx, p AuditParams) ([]Check, error) {
	a, err := newStateAudit(ctx, tx, p)
	if err != nil {
		return nil, err
	}
	a.repairing = true
	checks, err := a.run(ctx, tx)
	if err != nil {
		return nil, err
	}
	for i := range checks {
		c := &checks[i]
		if c.Skipped != "" {
			continue
		}
		switch c.Name {
		case CheckPackages:
			c.Repaired, err = a.repairPackages(ctx, tx)
		case CheckPackagesets:
			c.Repaired, err = a.repairPackagesets(ctx, tx)
		case CheckRepos:
			c.Repaired, err = a.repairRepos(ctx, tx)
		case CheckBuckets:
			c.Repaired, err = a.repairBuckets(ctx, tx)
		default:
			if !c.Clean() {
				c.Note = joinNote(c.Note, "the changelog is append-only: nothing is rewritten for this check")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("repairing %s: %w", c.Name, err)
		}
	}
	return checks, nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

type repoProject struct {
	repo    int32
	project string
}

// auditRepo is a repository as stored, with what the audit recomputes.
type auditRepo struct {
	id                          int32
	name                        string
	stored                      hashing.Sum
	numPackages, numPackagesets int
	seed                        uint64
	version                     int
	scheme                      version.Scheme
	h                           *hashing.Hasher
	// The recomputed state.
	state              hashing.State
	packages, packsets int
	// The stored per-bucket states and the recomputed ones (of the same
	// length; none when none are stored).
	storedBuckets, buckets Buckets
}

type stateAudit struct {
	p         AuditParams
	repairing bool
	repos     map[int32]*auditRepo
	order     []*auditRepo
	skipped   []string // repositories stored with another hash algorithm
	invalid   map[repoProject]bool

	// What a repair rewrites.
	reinvalidate map[repoProject]struct{}
	setFix       struct {
		repos    []int32
		projects []string
		sums     []*int64
		counts   []int32
	}
	headBatch  int64
	headGlobal *hashing.Sum
	// Packagesets whose bucket column is not Bucket(project), and samples.
	wrongBuckets int64
	bucketCheck  Check
}

func newStateAudit(ctx context.Context, tx pgx.Tx, p AuditParams) (*stateAudit, error) {
	if p.MaxSamples <= 0 {
		p.MaxSamples = 5
	}
	a := &stateAudit{p: p, repos: map[int32]*auditRepo{}, invalid: map[repoProject]bool{}, reinvalidate: map[repoProject]struct{}{}}
	rows, err := tx.Query(ctx, dlsql.Query("audit-repos"))
	if err != nil {
		return nil, fmt.Errorf("audit: reading repositories: %w", err)
	}
	var (
		r           auditRepo
		state, seed int64
		buckets     []int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&r.id, &r.name, &state, &r.numPackages, &r.numPackagesets, &seed, &r.version, &r.scheme, &buckets}, func() error {
		x := r
		x.stored, x.seed = hashing.Sum(state), uint64(seed)
		x.storedBuckets = BucketsOf(buckets)
		x.buckets = make(Buckets, len(buckets))
		x.h = hashing.New(x.seed)
		a.repos[x.id] = &x
		a.order = append(a.order, &x)
		if x.version != hashing.AlgorithmVersion {
			a.skipped = append(a.skipped, fmt.Sprintf("%s (hash algorithm %d)", x.name, x.version))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("audit: reading repositories: %w", err)
	}
	rows, err = tx.Query(ctx, dlsql.Query("audit-invalid"))
	if err != nil {
		return nil, fmt.Errorf("audit: reading invalid packagesets: %w", err)
	}
	var k repoProject
	if _, err := pgx.ForEachRow(rows, []any{&k.repo, &k.project}, func() error {
		a.invalid[k] = true
		return nil
	}); err != nil {
		return nil, fmt.Errorf("audit: reading invalid packagesets: %w", err)
	}
	return a, nil
}

// checkable reports whether the repository's checksums can be recomputed by
// this code (they were computed with the current algorithm).
func (r *auditRepo) checkable() bool { return r.version == hashing.AlgorithmVersion }

func (a *stateAudit) run(ctx context.Context, tx pgx.Tx) ([]Check, error) {
	steps := []func(context.Context, pgx.Tx) ([]Check, error){
		a.checkPackages, a.checkPackagesets, a.checkRepos, a.checkBuckets, a.checkSequence, a.checkReplay,
	}
	var out []Check
	for _, step := range steps {
		start := time.Now()
		cs, err := step(ctx, tx)
		if err != nil {
			return nil, err
		}
		secs := time.Since(start).Seconds() / float64(len(cs))
		for i := range cs {
			cs[i].Seconds = secs
			if cs[i].Samples == nil && !cs[i].Clean() {
				cs[i].Samples = []Sample{}
			}
		}
		out = append(out, cs...)
	}
	return out, nil
}

// sample appends a sample unless the check has enough.
func (a *stateAudit) sample(c *Check, key, expected, actual any) {
	if len(c.Samples) >= a.p.MaxSamples {
		return
	}
	enc := func(v any) json.RawMessage {
		if v == nil {
			return json.RawMessage("null")
		}
		b, err := json.Marshal(v)
		if err != nil {
			return json.RawMessage(fmt.Sprintf("%q", err.Error()))
		}
		return b
	}
	c.Samples = append(c.Samples, Sample{Key: enc(key), Expected: enc(expected), Actual: enc(actual)})
}

func (a *stateAudit) skipNote() string {
	if len(a.skipped) == 0 {
		return ""
	}
	return fmt.Sprintf("not recomputable with hash algorithm %d, re-derived on their next update: %v", hashing.AlgorithmVersion, a.skipped)
}

type obj = map[string]any

// checkPackages re-hashes every stored package from its content.
func (a *stateAudit) checkPackages(ctx context.Context, tx pgx.Tx) ([]Check, error) {
	c := Check{Name: CheckPackages, Note: a.skipNote()}
	rows, err := tx.Query(ctx, dlsql.Query("audit-packages"))
	if err != nil {
		return nil, fmt.Errorf("audit packages: %w", err)
	}
	var (
		repoID                    int32
		key                       int64
		p                         events.Package
		vkey                      []byte
		maintainers, links, extra []byte
		pending                   int
	)
	_, err = pgx.ForEachRow(rows, []any{&repoID, &p.Project, &key, &p.Name, &p.Version, &vkey, &p.Summary, &p.Category,
		&maintainers, &links, &extra}, func() error {
		k := obj{"repo": repoID, "project": p.Project, "name": p.Name, "version": p.Version, "checksum": hashing.Sum(key).String()}
		r := a.repos[repoID]
		if r == nil {
			c.Compared++
			c.Extra++
			a.sample(&c, k, nil, obj{"repo_id": repoID})
			return nil
		}
		if !r.checkable() {
			return nil
		}
		c.Compared++
		k["repo"] = r.name
		pkg := p
		var sum hashing.Sum
		decodeErr := decodePackage(&pkg, maintainers, links, extra)
		if decodeErr == nil {
			sum = r.h.Package(&pkg)
		}
		want := version.SchemeKey(r.scheme, pkg.Version)
		if decodeErr == nil && sum == hashing.Sum(key) && bytes.Equal(want, vkey) {
			return nil
		}
		rp := repoProject{repoID, p.Project}
		if a.invalid[rp] {
			pending++
			return nil
		}
		c.Differing++
		if a.repairing {
			a.reinvalidate[rp] = struct{}{}
		}
		exp := obj{"checksum": sum.String(), "version_key": hex.EncodeToString(want)}
		if decodeErr != nil {
			exp = obj{"error": decodeErr.Error()}
		}
		a.sample(&c, k, exp, obj{"checksum": hashing.Sum(key).String(), "version_key": hex.EncodeToString(vkey)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit packages: %w", err)
	}
	if pending > 0 {
		c.Note = joinNote(c.Note, fmt.Sprintf("%d packages of invalidated packagesets differ, as expected until their repository's next update", pending))
	}
	return []Check{c}, nil
}

// checkPackagesets recomputes every packageset from its packages' checksums,
// and each repository's state from the recomputed packagesets.
func (a *stateAudit) checkPackagesets(ctx context.Context, tx pgx.Tx) ([]Check, error) {
	c := Check{Name: CheckPackagesets, Note: a.skipNote()}
	rows, err := tx.Query(ctx, dlsql.Query("audit-packagesets"))
	if err != nil {
		return nil, fmt.Errorf("audit packagesets: %w", err)
	}
	var (
		repoID    int32
		project   string
		storedSum *int64
		storedNum *int32
		bucket    *int32
		keys      []int64
		sums      []hashing.Sum
	)
	a.bucketCheck = Check{Name: CheckBuckets, Note: a.skipNote()}
	fix := func(sum *int64, n int32) {
		if a.repairing {
			a.setFix.repos = append(a.setFix.repos, repoID)
			a.setFix.projects = append(a.setFix.projects, project)
			a.setFix.sums = append(a.setFix.sums, sum)
			a.setFix.counts = append(a.setFix.counts, n)
		}
	}
	_, err = pgx.ForEachRow(rows, []any{&repoID, &project, &storedSum, &storedNum, &bucket, &keys}, func() error {
		r := a.repos[repoID]
		k := obj{"repo": repoID, "project": project}
		var actual any
		if storedSum != nil {
			actual = obj{"checksum": hashing.Sum(*storedSum).String(), "num_packages": *storedNum}
		}
		if r == nil {
			c.Compared++
			c.Extra++
			a.sample(&c, k, nil, actual)
			return nil
		}
		k["repo"] = r.name
		if !r.checkable() {
			return nil
		}
		c.Compared++
		if keys == nil { // a packageset without packages
			c.Extra++
			a.sample(&c, k, nil, actual)
			fix(nil, 0)
			return nil
		}
		sums = sums[:0]
		for _, s := range keys {
			sums = append(sums, hashing.Sum(s))
		}
		slices.Sort(sums) // as unsigned: the order Packageset is defined on
		exp := r.h.Packageset(sums)
		contribution := r.h.Contribution(r.name, project, exp)
		r.state = r.state.Add(contribution)
		b := Bucket(project)
		if len(r.buckets) > 0 {
			r.buckets.Add(b, contribution)
		}
		if bucket != nil && *bucket != int32(b) {
			// Not repairable from here: SQL and Go disagree on md5.
			a.wrongBuckets++
			a.sample(&a.bucketCheck, obj{"repo": r.name, "project": project}, obj{"bucket": b}, obj{"bucket": *bucket})
		}
		r.packages += len(sums)
		r.packsets++
		expected := obj{"checksum": exp.String(), "num_packages": len(sums)}
		switch {
		case storedSum == nil:
			c.Missing++
			a.sample(&c, k, expected, nil)
		case hashing.Sum(*storedSum) != exp || int(*storedNum) != len(sums):
			c.Differing++
			a.sample(&c, k, expected, actual)
		default:
			return nil
		}
		v := exp.Int64()
		fix(&v, int32(len(sums)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit packagesets: %w", err)
	}
	return []Check{c}, nil
}

// checkRepos compares the recomputed repository states with the stored ones,
// and their sum with the global state checksum the last batch announced.
func (a *stateAudit) checkRepos(ctx context.Context, tx pgx.Tx) ([]Check, error) {
	c := Check{Name: CheckRepos, Note: a.skipNote()}
	var global hashing.State
	for _, r := range a.order {
		if !r.checkable() {
			continue
		}
		c.Compared++
		global = global.Add(r.state.Sum())
		if r.state.Sum() == r.stored && r.packages == r.numPackages && r.packsets == r.numPackagesets {
			continue
		}
		c.Differing++
		a.sample(&c, obj{"repo": r.name},
			obj{"state_checksum": r.state.Sum().String(), "num_packages": r.packages, "num_packagesets": r.packsets},
			obj{"state_checksum": r.stored.String(), "num_packages": r.numPackages, "num_packagesets": r.numPackagesets})
	}
	if len(a.skipped) > 0 {
		return []Check{c}, nil
	}
	var id, announced int64
	err := tx.QueryRow(ctx, dlsql.Query("audit-head-batch")).Scan(&id, &announced)
	if errors.Is(err, pgx.ErrNoRows) {
		return []Check{c}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit repos: reading the last batch: %w", err)
	}
	c.Compared++
	if hashing.Sum(announced) != global.Sum() {
		c.Differing++
		a.sample(&c, obj{"global": true, "batch": id},
			obj{"global_state_checksum": global.Sum().String()}, obj{"global_state_checksum": hashing.Sum(announced).String()})
		g := global.Sum()
		a.headBatch, a.headGlobal = id, &g
	}
	return []Check{c}, nil
}

// checkBuckets compares the recomputed per-bucket states of each
// repository with the stored ones (checkPackagesets recomputed them, and
// checked the bucket column).
func (a *stateAudit) checkBuckets(context.Context, pgx.Tx) ([]Check, error) {
	c := a.bucketCheck
	c.Compared, c.Differing = a.wrongBuckets, a.wrongBuckets
	if a.wrongBuckets > 0 {
		c.Note = joinNote(c.Note, "a packageset's bucket column (computed by PostgreSQL) is not the bucket Go computes: "+
			"updates read the wrong buckets; nothing a repair can rewrite")
	}
	var unknown []string
	for _, r := range a.order {
		if !r.checkable() {
			continue
		}
		if len(r.storedBuckets) == 0 {
			unknown = append(unknown, r.name)
			continue
		}
		c.Compared++
		var differ []int
		for g := range r.buckets {
			if r.buckets[g] != r.storedBuckets[g] {
				differ = append(differ, g)
			}
		}
		if len(differ) == 0 && r.buckets.Sum() == r.storedBuckets.Sum() {
			continue
		}
		c.Differing++
		g := differ[0]
		a.sample(&c, obj{"repo": r.name, "groups": len(r.buckets), "group": g, "differing": len(differ)},
			obj{"state": r.buckets[g].Sum().String()}, obj{"state": r.storedBuckets[g].Sum().String()})
	}
	if len(unknown) > 0 {
		c.Note = joinNote(c.Note, fmt.Sprintf("no bucket states yet (computed by their next changing update): %v", unknown))
	}
	return []Check{c}, nil
}

// checkSequence checks that seqs are dense: from 1 to the head, below each
// projection checkpoint, and within every batch's range.
func (a *stateAudit) checkSequence(ctx context.Context, tx pgx.Tx) ([]Check, error) {
	c := Check{Name: CheckSequence}
	var head, n, lo, hi int64
	if err := tx.QueryRow(ctx, dlsql.Query("audit-changelog-extent")).Scan(&head, &n, &lo, &hi); err != nil {
		return nil, fmt.Errorf("audit changelog: %w", err)
	}
	c.Compared = n
	names := []string{"head"}
	bounds := []int64{head}
	for _, name := range slices.Sorted(maps.Keys(a.p.Checkpoints)) {
		names, bounds = append(names, name+" checkpoint"), append(bounds, a.p.Checkpoints[name])
	}
	rows, err := tx.Query(ctx, dlsql.Query("audit-changelog-below"), names, bounds)
	if err != nil {
		return nil, fmt.Errorf("audit changelog: %w", err)
	}
	var (
		name        string
		bound, have int64
		holesBelow  int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&name, &bound, &have}, func() error {
		if have == bound && (name != "head" || (n == head && hi == head)) {
			return nil
		}
		if name == "head" {
			c.Missing += max(bound-have, 0)
			c.Extra += n - have
		} else {
			c.Differing++
		}
		holesBelow = max(holesBelow, bound)
		a.sample(&c, obj{"range": fmt.Sprintf("1..%d", bound), "below": name},
			obj{"events": bound}, obj{"events": have, "above": n - have})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("audit changelog: %w", err)
	}
	if holesBelow > 0 {
		rows, err := tx.Query(ctx, dlsql.Query("audit-changelog-holes"), holesBelow, a.p.MaxSamples)
		if err != nil {
			return nil, fmt.Errorf("audit changelog holes: %w", err)
		}
		var from, to int64
		if _, err := pgx.ForEachRow(rows, []any{&from, &to}, func() error {
			a.sample(&c, obj{"hole": fmt.Sprintf("%d..%d", from, to)}, obj{"events": to - from + 1}, obj{"events": 0})
			return nil
		}); err != nil {
			return nil, fmt.Errorf("audit changelog holes: %w", err)
		}
	}

	rows, err = tx.Query(ctx, dlsql.Query("audit-batches"))
	if err != nil {
		return nil, fmt.Errorf("audit batches: %w", err)
	}
	var (
		id             *int64
		batch          int64
		repo           string
		first, last    *int64
		events         int64
		minSeq, maxSeq *int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &batch, &repo, &first, &last, &events, &minSeq, &maxSeq}, func() error {
		if id != nil && first != nil && events == *last-*first+1 && minSeq != nil && *minSeq == *first && *maxSeq == *last {
			return nil
		}
		c.Differing++
		var exp, act any
		if id != nil {
			exp = obj{"first_seq": *first, "last_seq": *last, "events": *last - *first + 1}
		}
		if minSeq != nil {
			act = obj{"first_seq": *minSeq, "last_seq": *maxSeq, "events": events}
		}
		a.sample(&c, obj{"batch": batch, "repo": repo}, exp, act)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("audit batches: %w", err)
	}
	return []Check{c}, nil
}

// checkReplay replays the changelog's checksums from seq 1.
func (a *stateAudit) checkReplay(ctx context.Context, tx pgx.Tx) ([]Check, error) {
	chain, replay := Check{Name: CheckChain}, Check{Name: CheckReplay}
	var chainSamples, replaySamples []byte
	if err := tx.QueryRow(ctx, dlsql.Query("audit-replay"), a.p.MaxSamples).Scan(
		&chain.Compared, &chain.Differing, &chainSamples,
		&replay.Compared, &replay.Missing, &replay.Extra, &replay.Differing, &replaySamples); err != nil {
		return nil, fmt.Errorf("audit replay: %w", err)
	}
	if err := json.Unmarshal(chainSamples, &chain.Samples); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(replaySamples, &replay.Samples); err != nil {
		return nil, err
	}
	return []Check{chain, replay}, nil
}

func (a *stateAudit) repairPackages(ctx context.Context, tx pgx.Tx) (*Repaired, error) {
	rep := &Repaired{}
	if len(a.reinvalidate) == 0 {
		return rep, nil
	}
	var repos []int32
	var projects []string
	for k := range a.reinvalidate {
		repos, projects = append(repos, k.repo), append(projects, k.project)
	}
	rows, err := tx.Query(ctx, dlsql.Query("repair-invalidate"), repos, projects)
	if err != nil {
		return nil, err
	}
	counts := map[int32]int64{}
	var repo int32
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&repo, &n}, func() error {
		counts[repo] = n
		return nil
	}); err != nil {
		return nil, err
	}
	actor := Actor()
	for repo, n := range counts {
		rep.Invalidated += n
		reason := fmt.Sprintf("audit repair: %d packagesets hold packages that differ from their checksums or carry stale version keys", n)
		if _, err := tx.Exec(ctx, dlsql.Query("invalidate-record"), repo, "audit", nil, reason, actor, n); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

func (a *stateAudit) repairPackagesets(ctx context.Context, tx pgx.Tx) (*Repaired, error) {
	rep := &Repaired{}
	if len(a.setFix.repos) == 0 {
		return rep, nil
	}
	err := tx.QueryRow(ctx, dlsql.Query("repair-packagesets"), a.setFix.repos, a.setFix.projects, a.setFix.sums, a.setFix.counts).
		Scan(&rep.Deleted, &rep.Inserted, &rep.Updated)
	return rep, err
}

func (a *stateAudit) repairBuckets(ctx context.Context, tx pgx.Tx) (*Repaired, error) {
	rep := &Repaired{}
	for _, r := range a.order {
		if !r.checkable() || len(r.storedBuckets) == 0 || slices.Equal(r.buckets, r.storedBuckets) {
			continue
		}
		tag, err := tx.Exec(ctx, dlsql.Query("repair-buckets"), r.id, r.buckets.Int64s())
		if err != nil {
			return nil, err
		}
		rep.Updated += tag.RowsAffected()
	}
	return rep, nil
}

func (a *stateAudit) repairRepos(ctx context.Context, tx pgx.Tx) (*Repaired, error) {
	rep := &Repaired{}
	var ids []int32
	var states []int64
	var pkgs, sets []int32
	for _, r := range a.order {
		if r.checkable() {
			ids, states = append(ids, r.id), append(states, r.state.Sum().Int64())
			pkgs, sets = append(pkgs, int32(r.packages)), append(sets, int32(r.packsets))
		}
	}
	tag, err := tx.Exec(ctx, dlsql.Query("repair-repos"), ids, states, pkgs, sets)
	if err != nil {
		return nil, err
	}
	rep.Updated = tag.RowsAffected()
	if a.headGlobal != nil {
		tag, err := tx.Exec(ctx, dlsql.Query("repair-head-batch"), a.headBatch, a.headGlobal.Int64())
		if err != nil {
			return nil, err
		}
		rep.Updated += tag.RowsAffected()
	}
	return rep, nil
}
