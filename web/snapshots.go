package web

import (
	"context"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	dlsql "github.com/deltalog/deltalog/sql"
)

// RepositorySnapshot is one row of repositories_history: a repository's
// counts after a batch.
type RepositorySnapshot struct {
	Batch       int64
	At          time.Time
	NumPackages int
	NumNewest   int
	NumOutdated int
}

// repositoryHistory returns the repository's last limit snapshots, newest
// first.
func (s *store) repositoryHistory(ctx context.Context, id int32, limit int) ([]RepositorySnapshot, error) {
	return collect(ctx, s.db, "repository snapshots", func(row pgx.CollectableRow) (RepositorySnapshot, error) {
		var r RepositorySnapshot
		return r, row.Scan(&r.Batch, &r.At, &r.NumPackages, &r.NumNewest, &r.NumOutdated)
	}, dlsql.Query("snapshots-repository-history"), id, limit)
}

// snapshotChart draws a repository's snapshots, oldest on the left, as an
// inline SVG: per batch a bar of its packages, newest at the bottom and
// outdated above, scaled to the largest; the rest of a bar (packages
// neither, by their version key) is left empty.
func snapshotChart(rows []RepositorySnapshot) template.HTML {
	if len(rows) == 0 {
		return ""
	}
	const width, height, label = 600.0, 80.0, 14.0
	most := 0
	for _, r := range rows {
		most = max(most, r.NumPackages)
	}
	bar := width / float64(len(rows))
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" role="img" aria-label="packages newest and outdated after each batch" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" xmlns="http://www.w3.org/2000/svg">`,
		width, height+label, width, height+label)
	fmt.Fprintf(&sb, `<text x="0" y="11" class="label">packages after each batch (max %d): newest, outdated</text>`, most)
	for i := range rows {
		r := rows[len(rows)-1-i] // oldest first
		x := float64(i) * bar
		tip := template.HTMLEscapeString(fmt.Sprintf("batch %d, %s: %d packages, %d newest, %d outdated",
			r.Batch, r.At.UTC().Format(time.DateTime), r.NumPackages, r.NumNewest, r.NumOutdated))
		bottom := label + height
		for _, part := range []struct {
			class string
			n     int
		}{{"newest", r.NumNewest}, {"outdated", r.NumOutdated}} {
			h := ratio(float64(part.n), float64(most)) * height
			fmt.Fprintf(&sb, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`,
				part.class, x+1, bottom-h, max(bar-2, 1), h, tip)
			bottom -= h
		}
	}
	sb.WriteString(`</svg>`)
	// Built from numbers and escaped text only.
	return template.HTML(sb.String()) //nolint:gosec
}
