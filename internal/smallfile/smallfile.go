// Package smallfile reads the small files a setting names (tokens, keys,
// certificates, configuration): only a regular file, and only up to a size, so that
// a FIFO, a device such as /dev/zero or a huge file given by mistake is an error at
// once instead of a start that hangs or runs out of memory.
package smallfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Read returns the contents of the regular file at path, at most max bytes. Errors
// do not repeat the path (the caller names the setting and its value): "no such
// file or directory", "is a directory, not a file", "not a regular file", "larger
// than 1 MiB".
func Read(path string, max int64) ([]byte, error) {
	// Stat before opening: opening a FIFO for reading blocks until a writer comes.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, bare(err)
	}
	if err := check(fi, max); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, bare(err)
	}
	defer f.Close()
	// The file may have been replaced between the two calls: judge what was opened.
	if fi, err = f.Stat(); err != nil {
		return nil, bare(err)
	}
	if err := check(fi, max); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, bare(err)
	}
	if int64(len(b)) > max {
		return nil, tooLarge(max)
	}
	return b, nil
}

func check(fi os.FileInfo, max int64) error {
	switch {
	case fi.IsDir():
		return errors.New("is a directory, not a file")
	case !fi.Mode().IsRegular():
		return errors.New("not a regular file")
	case fi.Size() > max:
		return tooLarge(max)
	}
	return nil
}

func tooLarge(max int64) error {
	if max >= 1<<20 && max%(1<<20) == 0 {
		return fmt.Errorf("larger than %d MiB", max>>20)
	}
	if max >= 1<<10 && max%(1<<10) == 0 {
		return fmt.Errorf("larger than %d KiB", max>>10)
	}
	return fmt.Errorf("larger than %d bytes", max)
}

// bare drops the path from an *os.PathError, keeping its cause.
func bare(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
