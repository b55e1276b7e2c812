package web

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var placeholder = regexp.MustCompile(`\$\d+`)

// FuzzProjectsQuery: whatever the query string, it parses or is refused
// with a bad request, and the text of the SQL built from it depends on
// which filters are set, never on their values: every value is a
// placeholder argument.
func FuzzProjectsQuery(f *testing.F) {
	f.Add("search=o'brien&maintainer=a@x&inrepo=deb&limit=10")
	f.Add("after=x;DROP TABLE projects;--&notinrepo=%25&outdated=r&newest=r&min_repos=2&max_repos=3")
	f.Add("search=%5C%25_&limit=-1")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := parseProjectsParams(q, 50, 500)
		if err != nil {
			var bad *badRequest
			require.ErrorAs(t, err, &bad)
			return
		}
		require.True(t, p.Limit >= 1 && p.Limit <= 500)
		sql, args, err := projectsQuery(p)
		require.NoError(t, err)
		// The SQL depends on which filters are set, never on their values.
		same := p
		for _, v := range []*string{&same.After, &same.Search, &same.Maintainer, &same.InRepo, &same.NotInRepo, &same.Outdated, &same.Newest} {
			if *v != "" {
				*v = "x"
			}
		}
		sameSQL, _, err := projectsQuery(same)
		require.NoError(t, err)
		require.Equal(t, sameSQL, sql)
		require.Len(t, placeholder.FindAllString(sql, -1), len(args))
		require.True(t, strings.HasSuffix(sql, "ORDER BY p.name LIMIT "+itoa(p.Limit+1)), sql)
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
