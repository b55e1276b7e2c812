// Command signs prints, for each "scheme<TAB>a<TAB>b" line on standard
// input, Compare(Normalize(scheme, a), Normalize(scheme, b)). It serves
// cut_pairs.py, which splits real pairs by whether the generic order agrees
// with their scheme's reference order.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/deltalog/deltalog/internal/input/version"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		f := strings.Split(in.Text(), "\t")
		if len(f) != 3 {
			fmt.Fprintf(os.Stderr, "signs: want 3 fields, got %q\n", in.Text())
			os.Exit(1)
		}
		s := version.Scheme(f[0])
		fmt.Fprintln(out, version.Compare(version.Normalize(s, f[1]), version.Normalize(s, f[2])))
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "signs:", err)
		os.Exit(1)
	}
}
