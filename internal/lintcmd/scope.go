package lintcmd

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/tfpr/tfpr/internal/policy"
)

// dedupe drops repeated findings and orders the rest by place, then by
// content, so the output does not depend on which project found what
// first.
func dedupe(fs []policy.Finding) []policy.Finding {
	out := newFindingSet().add(fs)
	slices.SortFunc(out, func(a, b policy.Finding) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.EndLine, b.EndLine),
			strings.Compare(a.Rule, b.Rule), strings.Compare(a.Address, b.Address), strings.Compare(a.Attribute, b.Attribute),
			strings.Compare(a.Message, b.Message), strings.Compare(a.Title, b.Title), cmp.Compare(a.Severity, b.Severity),
			compareBool(a.Suppressed, b.Suppressed), strings.Compare(a.SuppressReason, b.SuppressReason))
	})
	return out
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// scope is what the lints under one root share: which dirs an earlier
// DIR argument already linted, the findings already kept, and what dirs
// whose parse was dropped declare.
type scope struct {
	done func(dir string) bool
	kept *findingSet

	mu       sync.Mutex
	declared map[string]policy.DirInfo
}

// forget drops the Tree's parse of dir, keeping what it declares (as
// Tree.Dir reads it) for dirInfo.
func (sc *scope) forget(ctx context.Context, t *policy.Tree, dir string) {
	sc.mu.Lock()
	_, known := sc.declared[dir]
	sc.mu.Unlock()
	if !known {
		info, err := t.Dir(ctx, dir)
		if err != nil {
			return
		}
		sc.mu.Lock()
		if sc.declared == nil {
			sc.declared = map[string]policy.DirInfo{}
		}
		sc.declared[dir] = info
		sc.mu.Unlock()
	}
	t.Release(dir)
}

// dirInfo is Tree.Dir, from what forget kept when it has dir.
func (sc *scope) dirInfo(ctx context.Context, t *policy.Tree, dir string) (policy.DirInfo, error) {
	sc.mu.Lock()
	info, ok := sc.declared[dir]
	sc.mu.Unlock()
	if ok {
		return info, nil
	}
	return t.Dir(ctx, dir)
}

// findingSet keeps one copy of each finding. A module's findings come
// back from the lint of every project that calls it; on a large tree most
// findings are such copies, and holding them all until the report is
// written was a tenth of lint's peak memory. A nil set keeps everything.
type findingSet struct {
	mu   sync.Mutex
	seen map[policy.Finding]struct{}
}

func newFindingSet() *findingSet { return &findingSet{seen: map[policy.Finding]struct{}{}} }

// add returns the findings of fs not added before.
func (s *findingSet) add(fs []policy.Finding) []policy.Finding {
	if s == nil {
		return fs
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := fs[:0:0]
	for _, f := range fs {
		if _, ok := s.seen[f]; !ok {
			s.seen[f] = struct{}{}
			out = append(out, f)
		}
	}
	return slices.Clip(out)
}
