// Package policies holds tfpr's default Rego policies and their unit tests.
package policies

import (
	"embed"
	"io/fs"
)

//go:embed *.rego
var files embed.FS

// FS returns the default policies, *_test.rego files included; the engine
// skips tests and `tfpr policy test` runs them.
func FS() fs.FS { return files }
