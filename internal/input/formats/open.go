package formats

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/ulikunitz/xz"
)

var (
	xzMagic    = []byte{0xFD, '7', 'z', 'X', 'Z', 0x00}
	gzipMagic  = []byte{0x1F, 0x8B}
	zstdMagic  = []byte{0x28, 0xB5, 0x2F, 0xFD}
	bzip2Magic = []byte("BZh")
)

// xzBinary is the path of the xz program, or "" when there is none.
//
// Decompressing xz is the slowest step of reading a Debian index, so it
// goes through the xz program (liblzma) when there is one, and through the
// pure-Go github.com/ulikunitz/xz otherwise. Measured on the shared 2-core
// build machine (busy with other jobs; best of 4 to 5 runs), bookworm main
// Packages-amd64, 8.6 MB of xz to 50.1 MB, in MB/s of decompressed output
// (BenchmarkDecompressXZ, BenchmarkOpenParseDebianPackages):
//
//	                               decompress   per CPU-second   + Parse
//	xz 5.4.1 program, via a pipe     89 MB/s       84 MB/s        0.70 s
//	github.com/ulikunitz/xz 0.5.17   44 MB/s       46 MB/s        1.47 s
//	(xz -dc > /dev/null in a shell: 0.62 s, 81 MB/s)
//
// The program is also a separate process: it decompresses on one core while
// Parse (about 450 MB/s on its own) runs on the other, so reading and
// parsing costs little more than decompressing. gzip stays in process
// (compress/gzip); Debian publishes xz.
var xzBinary = sync.OnceValue(func() string {
	p, err := exec.LookPath("xz")
	if err != nil {
		return ""
	}
	return p
})

// Open opens the file at path and returns its content, decompressed when it
// is xz or gzip. The compression is detected from the first bytes of the
// file, not from its name: Debian mirrors and download tools do not always
// keep the suffix. Anything else is returned as is.
//
// Truncated or corrupt compressed data is reported by Read as a
// *ParseError naming the file and wrapping ErrCorrupt, never as an early
// io.EOF. Close releases the file (and stops the xz process, if any).
func Open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	rc, err := decompress(context.Background(), f, path, xzBinary())
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileReader{ReadCloser: rc, file: f}, nil
}

type fileReader struct {
	io.ReadCloser
	file *os.File
}

func (r *fileReader) Close() error {
	return errors.Join(r.ReadCloser.Close(), r.file.Close())
}

// decompress returns the decompressed content of raw. xzBin is the xz
// program to use, "" for the pure-Go decoder. ctx stops the xz program.
func decompress(ctx context.Context, raw io.Reader, name, xzBin string) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(raw, 64<<10)
	magic, err := br.Peek(len(xzMagic))
	if err != nil && err != io.EOF {
		return nil, &ParseError{File: name, Err: err}
	}
	switch {
	case bytes.HasPrefix(magic, xzMagic):
		if xzBin != "" {
			x, err := newXZCommand(ctx, br, name, xzBin)
			if err == nil {
				return x, nil
			}
			// The program could not be started (it went away, or the
			// process limit was hit); nothing was read yet, so the
			// pure-Go decoder can take over.
		}
		tail := &xzTail{r: br}
		xr, err := xz.NewReader(tail)
		if err != nil {
			return nil, corrupt(name, "xz", err)
		}
		return &checkedReader{r: xr, name: name, method: "xz", atEOF: tail.check}, nil
	case bytes.HasPrefix(magic, gzipMagic):
		gr, err := gzip.NewReader(br)
		if err != nil {
			return nil, corrupt(name, "gzip", err)
		}
		return &checkedReader{r: gr, name: name, method: "gzip"}, nil
	case bytes.HasPrefix(magic, zstdMagic):
		return nil, &ParseError{File: name, Err: fmt.Errorf("%w: zstd", ErrUnsupportedCompression)}
	case bytes.HasPrefix(magic, bzip2Magic) && len(magic) == 6 && '1' <= magic[3] && magic[3] <= '9' &&
		(magic[4] == 0x31 && magic[5] == 0x41 || magic[4] == 0x17 && magic[5] == 0x72):
		return nil, &ParseError{File: name, Err: fmt.Errorf("%w: bzip2", ErrUnsupportedCompression)}
	}
	return io.NopCloser(br), nil
}

// isDecoder reports whether r is a decompressing reader of decompress,
// rather than the raw input passed through.
func isDecoder(r io.Reader) bool {
	switch r.(type) {
	case *checkedReader, *xzCommand:
		return true
	}
	return false
}

func corrupt(name, method string, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return &ParseError{File: name, Err: fmt.Errorf("%w: %s: %w", ErrCorrupt, method, err)}
}

// checkedReader turns the errors of an in-process decoder into
// *ParseError values naming the file. atEOF, if set, gets a last word
// before io.EOF is reported.
type checkedReader struct {
	r      io.Reader
	name   string
	method string
	atEOF  func() error
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF && c.atEOF != nil {
		if ferr := c.atEOF(); ferr != nil {
			err = corrupt(c.name, c.method, ferr)
		}
	}
	if err != nil && err != io.EOF {
		var pe *ParseError
		if !errors.As(err, &pe) {
			err = corrupt(c.name, c.method, err)
		}
	}
	return n, err
}

// Close releases nothing: the decoders hold no resources beyond memory,
// and their errors were already reported by Read.
func (c *checkedReader) Close() error { return nil }

// xzTail remembers the last two bytes of the raw input before any trailing
// zero bytes (xz stream padding).
//
// github.com/ulikunitz/xz v0.5.17 reports a clean io.EOF, with no data, for
// input cut right after the stream header or inside the first block header
// (bytes 12 to 24 of a file): an empty result instead of an error. Every
// complete xz file ends with the footer magic "YZ" (then optional zero
// padding), so checking for it closes that hole.
type xzTail struct {
	r              io.Reader
	prev, last     byte // the last non-zero byte and the one before it
	lastOfPrevRead byte
}

func (t *xzTail) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	for i := n - 1; i >= 0; i-- {
		if p[i] != 0 {
			t.last = p[i]
			if i > 0 {
				t.prev = p[i-1]
			} else {
				t.prev = t.lastOfPrevRead
			}
			break
		}
	}
	if n > 0 {
		t.lastOfPrevRead = p[n-1]
	}
	return n, err
}

func (t *xzTail) check() error {
	if t.prev != 'Y' || t.last != 'Z' {
		return fmt.Errorf("%w: no xz stream footer", io.ErrUnexpectedEOF)
	}
	return nil
}

// xzCommand reads the output of "xz -dc". Its Read reports io.EOF only
// after xz exited successfully: xz notices truncated or corrupt input only
// at the end, and a pipe alone would make that look like a clean end.
type xzCommand struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr *bytes.Buffer
	name   string
	done   bool
	err    error
}

func newXZCommand(ctx context.Context, in io.Reader, name, xzBin string) (*xzCommand, error) {
	cmd := exec.CommandContext(ctx, xzBin, "--decompress", "--stdout", "--quiet")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdin = in
	// Killing xz does not end the copy of in to its input while that copy
	// waits on a read (a pipe nothing writes to): Wait gives up on it.
	cmd.WaitDelay = time.Second
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", xzBin, err)
	}
	return &xzCommand{cmd: cmd, stdout: stdout, stderr: stderr, name: name}, nil
}

func (x *xzCommand) Read(p []byte) (int, error) {
	if x.done {
		return 0, x.err
	}
	n, err := x.stdout.Read(p)
	if err == nil {
		return n, nil
	}
	x.done = true
	x.err = io.EOF
	if werr := x.cmd.Wait(); werr != nil {
		msg := strings.TrimSpace(x.stderr.String())
		if msg == "" {
			msg = werr.Error()
		}
		x.err = &ParseError{File: x.name, Err: fmt.Errorf("%w: xz: %s", ErrCorrupt, msg)}
	} else if err != io.EOF {
		x.err = &ParseError{File: x.name, Err: err}
	}
	return n, x.err
}

// Close stops xz if it is still running and waits for it.
func (x *xzCommand) Close() error {
	if x.done {
		return nil
	}
	x.done = true
	x.err = errors.New("read after close")
	_ = x.cmd.Process.Kill()
	_ = x.cmd.Wait()
	return nil
}
