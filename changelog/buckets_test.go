package changelog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/deltalog/deltalog/hashing"
	"github.com/deltalog/deltalog/internal/pg/dbtest"
)

// TestBucketMatchesColumn: Go's Bucket is the bucket PostgreSQL's generated
// column computes, for ASCII, non-ASCII and long projects alike.
func TestBucketMatchesColumn(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	projects := []string{"a", "python-requests", "ñandú", "日本語", "x\u00a0y", fmt.Sprintf("%0300d", 7)}
	for i := range 2000 {
		projects = append(projects, fmt.Sprintf("p%d-%x", i, rng.Uint64()))
	}
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"packagesets"}, []string{"repo_id", "project", "checksum", "num_packages"},
		pgx.CopyFromSlice(len(projects), func(i int) ([]any, error) { return []any{1, projects[i], 0, 1}, nil }))
	require.NoError(t, err)
	rows, err := pool.Query(ctx, "SELECT project, bucket FROM packagesets")
	require.NoError(t, err)
	var project string
	var bucket int32
	seen := map[uint16]bool{}
	n := 0
	_, err = pgx.ForEachRow(rows, []any{&project, &bucket}, func() error {
		require.Equal(t, int32(Bucket(project)), bucket, project)
		seen[Bucket(project)] = true
		n++
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, len(projects), n)
	require.Greater(t, len(seen), 1900, "buckets spread")
}

func TestBucketsGroupsAndDiffers(t *testing.T) {
	t.Parallel()
	require.Equal(t, 1, groupsFor(0))
	require.Equal(t, 1, groupsFor(8))
	require.Equal(t, 2, groupsFor(9))
	require.Equal(t, 1024, groupsFor(8000))
	require.Equal(t, maxGroups, groupsFor(100_000_000))

	b, o := make(Buckets, 4), make(Buckets, 4) // groups of 16384 buckets
	require.True(t, b.fits(20))
	require.False(t, b.fits(8*64))
	b.Add(0, 5)
	b.Add(16383, 1)
	b.Add(16384, 7)
	b.Add(65535, 9)
	require.Equal(t, Buckets{6, 7, 0, 9}, b)
	require.Equal(t, hashing.State(22), b.Sum())
	o.Add(0, 6)
	o.Add(16384, 7)
	require.Equal(t, []BucketRange{{49152, 65536}}, b.Differing(o))
	o.Add(32768, 2)
	require.Equal(t, []BucketRange{{32768, 65536}}, b.Differing(o), "adjacent groups merge")
	o.Remove(32768, 2)
	b.Remove(65535, 9)
	o.Add(40000, 1)
	require.Equal(t, []BucketRange{{32768, 49152}}, b.Differing(o))
	o.Add(1, 1)
	require.Equal(t, []BucketRange{{0, 16384}, {32768, 49152}}, b.Differing(o))
	whole := Buckets{3}
	require.Equal(t, []BucketRange{{0, 65536}}, whole.Differing(Buckets{4}))
}
