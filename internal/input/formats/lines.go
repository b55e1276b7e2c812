package formats

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"unicode/utf8"
)

// readBufferSize is the bufio buffer of every parser: large enough that
// almost every line is returned in place (no copy), small enough to stay in
// L2 cache.
const readBufferSize = 256 << 10

// errLineTooLong is returned by lineReader.next for a line longer than
// MaxFieldSize; the parsers turn it into ErrOversizedField with a location.
var errLineTooLong = errors.New("line too long")

// lineReader returns the lines of a stream without allocating: the slice it
// returns is valid until the next call. Lines longer than the bufio buffer
// are assembled in a reused scratch buffer, up to MaxFieldSize.
type lineReader struct {
	br   *bufio.Reader
	long []byte
	line int // number of the line last returned, 1-based
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, readBufferSize)}
}

// next returns the next line without its line ending ("\n" or "\r\n").
// At the end of the stream it returns io.EOF; a final line without "\n"
// is returned normally first. On errLineTooLong the returned slice holds
// the start of the line (for naming the field).
func (lr *lineReader) next() ([]byte, error) {
	line, err := lr.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		lr.long = append(lr.long[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(lr.long) > MaxFieldSize {
				lr.line++
				return lr.long, errLineTooLong
			}
			line, err = lr.br.ReadSlice('\n')
			lr.long = append(lr.long, line...)
		}
		line = lr.long
	}
	if err != nil && (err != io.EOF || len(line) == 0) {
		if err != io.EOF {
			lr.line++ // the error is located on the line being read
		}
		return nil, err
	}
	lr.line++
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	if len(line) > MaxFieldSize {
		return line, errLineTooLong
	}
	return line, nil
}

// checkLine rejects a line that is not valid UTF-8 or holds a NUL byte.
func checkLine(line []byte) error {
	if !utf8.Valid(line) {
		return ErrInvalidUTF8
	}
	if bytes.IndexByte(line, 0) >= 0 {
		return ErrNULByte
	}
	return nil
}

// readError turns an error of the underlying reader (a decompression error,
// an I/O error) into a *ParseError located at the current line.
func readError(name string, line int, err error) error {
	var pe *ParseError
	if errors.As(err, &pe) {
		return &ParseError{File: name, Line: line, Field: pe.Field, Err: pe.Err}
	}
	return &ParseError{File: name, Line: line, Err: err}
}
