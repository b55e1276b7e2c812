package formats

import (
	"io"

	"github.com/ulikunitz/xz"
)

func xzNewWriter(w io.Writer) (io.WriteCloser, error) { return xz.NewWriter(w) }
