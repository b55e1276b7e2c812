package sql_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	dlsql "github.com/deltalog/deltalog/sql"
)

func TestRenderQualifiesEveryMarker(t *testing.T) {
	t.Parallel()
	q := dlsql.Render("expect-maintainers", dlsql.Schemas{Schema: "public", Levels: "pg_temp", Input: "public"})
	require.Contains(t, q, `JOIN "public".maintainers m`)
	require.Contains(t, q, `FROM "pg_temp".maintainer_repositories x`)
	require.NotContains(t, q, "TEMPLATE")
	shadow := dlsql.Render("rebuild-seed-identities", dlsql.Schemas{Schema: "deltalog_rebuild_catalog"})
	require.Contains(t, shadow, `INSERT INTO "deltalog_rebuild_catalog".maintainers`)
	require.Contains(t, shadow, "FROM public.maintainers l", "live tables are named as such")
}

func TestRenderRefusesMissingSchemas(t *testing.T) {
	t.Parallel()
	require.PanicsWithValue(t, "sql: query expect-maintainers: no schema for /* TEMPLATE: levels */",
		func() { dlsql.Render("expect-maintainers", dlsql.Schemas{Schema: "public", Input: "public"}) })
	require.PanicsWithValue(t, "sql: query catalog-newest has template markers: use Render",
		func() { dlsql.Query("catalog-newest") })
	require.NotPanics(t, func() { dlsql.Query("checkpoint-get") })
}
