//go:build !linux

package policy

import "os"

// readRegular has no fast path here: every file is read through os.Root.
func readRegular(dir *os.File, name string) ([]byte, bool) { return nil, false }
