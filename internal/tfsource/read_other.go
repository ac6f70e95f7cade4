//go:build !linux

package tfsource

import "os"

// ReadRegularAt has no fast path here: every file is read through os.Root.
func ReadRegularAt(dir *os.File, name string, limit int64) ([]byte, bool) { return nil, false }
