package projections_test

import (
	"fmt"

	"github.com/deltalog/deltalog/projections"
)

// The projections a runner or an audit works on are chosen by name.
func ExampleSelect() {
	all, err := projections.Default(projections.CatalogConfig{})
	if err != nil {
		panic(err)
	}
	ps, err := projections.Select(all, []string{projections.HistoryName})
	if err != nil {
		panic(err)
	}
	for _, p := range ps {
		fmt.Println(p.Name())
	}
	_, err = projections.Select(all, []string{"search"})
	fmt.Println(err)
	// Output:
	// history
	// unknown projection "search" (known: [catalog history])
}

// Each projection's derived tables, in the order they are derived: the
// tables Verify and the audit check, and a rebuild replaces.
func ExampleTables() {
	for _, name := range projections.Names() {
		fmt.Println(name, projections.Tables()[name])
	}
	// Output:
	// catalog [project_repositories project_maintainers project_links project_categories maintainer_repositories projects maintainers links category_projects repository_categories repositories statistics related_urls project_related problems repository_problems maintainer_problems]
	// history [history_versions project_history project_redirects]
}

// An audit report names the checks that found something wrong.
func ExampleAuditReport_Failed() {
	rep := &projections.AuditReport{
		Outcome: projections.OutcomeInconsistent,
		Checks: []projections.Check{
			{Name: "catalog.projects", Compared: 120},
			{Name: "catalog.links", Compared: 40, Missing: 1, Differing: 2},
		},
	}
	for _, c := range rep.Failed() {
		fmt.Printf("%s: %d missing, %d differing of %d\n", c.Name, c.Missing, c.Differing, c.Compared)
	}
	fmt.Println("consistent:", rep.Consistent())
	// Output:
	// catalog.links: 1 missing, 2 differing of 40
	// consistent: false
}
