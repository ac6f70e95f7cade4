package project

import (
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/tfpr/tfpr/internal/tfsource"
)

// A template rendered by templatefile() is code: its own ${file("...")}
// and templatefile() calls read files too, and terraform resolves their
// paths as in the calling module (${path.module} is the caller's dir, a
// bare path the project's). So a template's reads join the caller's reads
// with the same bases, and only the template's own location depends on
// which project runs the caller.

// maxTemplateDepth bounds templates rendering templates, as the policy
// check does.
const maxTemplateDepth = 4

// maxTemplatesPerProject bounds the templates read for one project. A
// project over it is taken to read anything, so nothing is missed.
const maxTemplatesPerProject = 64

// templates reads each template once per scan and counts, per project, the
// distinct templates read for it.
type templates struct {
	root  *os.Root
	reads map[string][]fileRead      // template path -> its reads
	used  map[string]map[string]bool // project -> templates read for it
}

func newTemplates(root *os.Root) *templates {
	return &templates{root: root, reads: map[string][]fileRead{}, used: map[string]map[string]bool{}}
}

// expand returns reads, the reads of dir, with the reads of every template
// they render (and those templates render, up to maxTemplateDepth) when
// project p runs dir.
func (t *templates) expand(dir, p string, reads []fileRead) []fileRead {
	type pending struct {
		r     fileRead
		depth int
	}
	var queue []pending
	for _, r := range reads {
		if r.template {
			queue = append(queue, pending{r, 1})
		}
	}
	if len(queue) == 0 {
		return reads
	}
	out := append([]fileRead(nil), reads...)
	seen := map[string]bool{}
	for i := 0; i < len(queue); i++ {
		it := queue[i]
		target, ok := it.r.resolve(dir, p)
		if !ok || seen[target] {
			continue
		}
		seen[target] = true
		if t.used[p] == nil {
			t.used[p] = map[string]bool{}
		}
		if !t.used[p][target] && len(t.used[p]) >= maxTemplatesPerProject {
			return append(out, everything)
		}
		t.used[p][target] = true
		inner := t.read(target)
		out = append(out, inner...)
		if it.depth >= maxTemplateDepth {
			continue
		}
		for _, r := range inner {
			if r.template {
				queue = append(queue, pending{r, it.depth + 1})
			}
		}
	}
	return out
}

// read returns the reads inside the template at rel. A template that is
// missing, not a regular file, too large, nested too deeply or invalid
// adds none: the template itself is already a tracked read, and the policy
// check denies what cannot be parsed safely.
func (t *templates) read(rel string) []fileRead {
	if r, ok := t.reads[rel]; ok {
		return r
	}
	t.reads[rel] = nil
	src, err := tfsource.ReadFile(t.root, rel, tfsource.MaxFileSize)
	if err != nil || tfsource.CheckNesting(src, tfsource.Template) != nil {
		return nil
	}
	expr, diags := hclsyntax.ParseTemplate(src, rel, hcl.InitialPos)
	if diags.HasErrors() {
		return nil
	}
	r := exprReads(expr)
	t.reads[rel] = r
	return r
}
