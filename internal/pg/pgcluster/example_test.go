package pgcluster_test

import (
	"fmt"

	"github.com/deltalog/deltalog/internal/pg/pgcluster"
)

func ExampleCluster_URL() {
	c, err := pgcluster.New(pgcluster.Config{Home: "/srv/deltalog"})
	if err != nil {
		panic(err)
	}
	fmt.Println(c.URL("deltalog"))

	c, err = pgcluster.New(pgcluster.Config{Home: "/srv/deltalog", Port: 5433})
	if err != nil {
		panic(err)
	}
	fmt.Println(c.URL("deltalog"))
	// Output:
	// postgres://postgres@/deltalog?host=/srv/deltalog/run
	// postgres://postgres@/deltalog?host=/srv/deltalog/run&port=5433
}
