package policy

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func TestZZParseAll(t *testing.T) {
	var srcs [][]byte
	filepath.WalkDir("/tmp/corpus", func(p string, d fs.DirEntry, err error) error {
		if strings.HasSuffix(p, ".tf") {
			b, _ := os.ReadFile(p)
			srcs = append(srcs, b)
		}
		return nil
	})
	start := time.Now()
	for _, s := range srcs {
		hclsyntax.LexConfig(s, "f.tf", hcl.InitialPos)
	}
	t.Logf("lex %d files: %v", len(srcs), time.Since(start))
	start = time.Now()
	for _, s := range srcs {
		hclsyntax.ParseConfig(s, "f.tf", hcl.InitialPos)
	}
	t.Logf("parse %d files: %v", len(srcs), time.Since(start))
	start = time.Now()
	for _, s := range srcs {
		parseSource("f.tf", "", s)
	}
	t.Logf("parseSource %d files: %v", len(srcs), time.Since(start))
}
