// Package tfsource knows which files terraform (or OpenTofu) loads from a
// directory and reads them the only safe way for a checkout written by a
// pull request: regular files inside the repository, opened without
// blocking, never more than a fixed size, and checked for nesting the HCL
// parsers cannot survive before any parser sees them.
package tfsource

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// Kind says how terraform or OpenTofu treat a directory entry.
type Kind int

const (
	// Ignored is not loaded by either binary.
	Ignored Kind = iota
	// Native is a .tf file.
	Native
	// JSON is a .tf.json file.
	JSON
	// Override is a *_override.tf(.json) or override.tf(.json) file, merged
	// over the blocks of the other files after they are read.
	Override
	// Tofu is a .tofu or .tofu.json file: OpenTofu loads it and prefers it
	// to the .tf file of the same name; terraform ignores it.
	Tofu
)

// KindOf classifies a file name as terraform and OpenTofu do: dotfiles,
// editor backups (~) and #autosave# files are ignored.
func KindOf(name string) Kind {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") ||
		(strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#")) {
		return Ignored
	}
	switch {
	case strings.HasSuffix(name, ".tofu"), strings.HasSuffix(name, ".tofu.json"):
		return Tofu
	case strings.HasSuffix(name, ".tf"), strings.HasSuffix(name, ".tf.json"):
		base := strings.TrimSuffix(strings.TrimSuffix(name, ".json"), ".tf")
		if base == "override" || strings.HasSuffix(base, "_override") {
			return Override
		}
		if strings.HasSuffix(name, ".json") {
			return JSON
		}
		return Native
	}
	return Ignored
}

// Loaded reports whether either binary loads the file.
func Loaded(name string) bool { return KindOf(name) != Ignored }

// MaxFileSize is the largest file tfpr reads; a larger one is refused,
// never skipped, since terraform would still load it.
const MaxFileSize = 1 << 20

// MaxFilesPerDir bounds the files tfpr reads from one directory; a
// directory with more is denied.
const MaxFilesPerDir = 1000

// Errors of ReadFile, to word findings.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("over the size limit")
)

// ReadFile reads rel below root: a regular file (symlinks are followed only
// while they stay inside root), opened non-blocking so a FIFO or device
// cannot stall the caller, and at most limit bytes. A larger file is
// ErrTooLarge, anything but a regular file ErrNotRegular.
func ReadFile(root *os.Root, rel string, limit int64) ([]byte, error) {
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", rel, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", rel, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", rel, ErrNotRegular)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes: %w of %d bytes", rel, st.Size(), ErrTooLarge, limit)
	}
	// One byte more than the limit, to notice a file that grew.
	src, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	if int64(len(src)) > limit {
		return nil, fmt.Errorf("%s: %w of %d bytes", rel, ErrTooLarge, limit)
	}
	return src, nil
}
