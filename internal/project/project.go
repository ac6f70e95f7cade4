// Package project finds the Terraform projects and local modules of a
// repository and works out which projects a change affects.
//
// A project is a directory whose .tf or .tf.json files declare a backend
// (terraform { backend "gcs" {} }): a root configuration with its own state.
// Any other directory holding .tf files is a module. A change to a local
// module affects every project that calls it, directly or through other
// local modules.
package project

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2"
	"github.com/tfpr/tfpr/internal/tfsource"
)

// Dir is one directory holding Terraform files.
type Dir struct {
	Path    string   // repo-relative, slash separated; "." for the root
	Project bool     // declares a backend
	Backend string   // backend type, e.g. "gcs"; empty for modules
	Calls   []string // repo-relative local module dirs called directly, sorted
	Files   []string // repo-relative .tf and .tf.json files, sorted
	Broken  bool     // some file failed to parse; see Graph.Diagnostics
}

// Diagnostic is a problem found while scanning. Scanning never stops for
// one: the directory is kept so a change to it is still reported.
type Diagnostic struct {
	File    string // repo-relative, slash separated
	Line    int    // 1-based; 0 when unknown
	Message string
}

func (d Diagnostic) String() string {
	if d.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", d.File, d.Line, d.Message)
	}
	return fmt.Sprintf("%s: %s", d.File, d.Message)
}

// Graph is the module graph of one tree. It is immutable after Scan and
// safe for concurrent use.
type Graph struct {
	dirs    map[string]*Dir
	callers map[string][]string // call target -> dirs calling it directly, sorted
	diags   []Diagnostic

	reads     map[string][]fileRead // dir -> the static paths its files read
	readFiles map[string][]string   // file read -> projects reading it
	readDirs  map[string][]string   // dir read (any file under it) -> projects
}

// skipDir lists directory names never scanned: VCS data, terraform's
// download cache, and JavaScript dependencies that may vendor .tf files.
func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || name == "node_modules"
}

type parseJob struct {
	rel, dir string
}

// Scan walks root and builds the graph. Files are parsed concurrently; only
// I/O errors (an unreadable directory or file) abort it.
func Scan(ctx context.Context, root string) (*Graph, error) {
	return (*Scanner)(nil).Scan(ctx, root)
}

// Scanner scans trees as Scan does and remembers what each file declares by
// its path and content, so that scanning another commit of a repository
// parses only the files that differ. It remembers at most a number of
// files and of bytes (see remember), so a PR of huge files cannot make it
// hold more. The zero
// Scanner remembers nothing. It is safe for concurrent use.
type Scanner struct {
	files    *lru.Cache[fileKey, remembered]
	bytes    atomic.Int64 // the weight of what files holds
	maxBytes int64
	decoded  atomic.Int64 // files parsed rather than remembered
}

type fileKey struct {
	rel string
	sum [sha256.Size]byte
}

// rememberedOverhead is what remembering a file costs beyond its
// declarations: the key, the cache's list and map entries.
const rememberedOverhead = 400

type remembered struct {
	res    fileResult
	weight int64
}

// NewScanner returns a Scanner remembering up to maxFiles files of up to
// maxBytes bytes in all.
func NewScanner(maxFiles int, maxBytes int64) *Scanner {
	s := &Scanner{maxBytes: maxBytes}
	c, err := lru.NewWithEvict(max(maxFiles, 1), func(_ fileKey, v remembered) { s.bytes.Add(-v.weight) })
	if err != nil {
		panic(err) // only for a size below 1
	}
	s.files = c
	return s
}

// remember keeps res, the declarations of a file of size bytes, dropping
// the least recently used files past the budget. A file's weight is an
// upper estimate of the memory it holds: the declarations of a 5,000-file
// tree of small files took 2.1 MB for 0.45 MB of source.
func (s *Scanner) remember(k fileKey, res fileResult, size int) {
	w := int64(rememberedOverhead + len(k.rel) + 3*size)
	if w > s.maxBytes {
		return
	}
	if _, had, _ := s.files.PeekOrAdd(k, remembered{res, w}); had {
		return // another scan remembered it meanwhile
	}
	s.bytes.Add(w)
	for s.bytes.Load() > s.maxBytes {
		if _, _, ok := s.files.RemoveOldest(); !ok {
			return
		}
	}
}

// Scan is the package's Scan through s's memory.
func (s *Scanner) Scan(ctx context.Context, root string) (*Graph, error) {
	if s != nil && s.files == nil {
		s = nil
	}
	g, err := s.scan(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	return g, nil
}

func (s *Scanner) scan(ctx context.Context, root string) (*Graph, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, errors.New("not a directory")
	}
	var jobs []parseJob
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return ctx.Err()
		}
		if !tfsource.Loaded(d.Name()) || d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		jobs = append(jobs, parseJob{rel: rel, dir: path.Dir(rel)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	results, err := s.parseAll(ctx, r, jobs)
	if err != nil {
		return nil, err
	}
	g := build(jobs, results)
	if err := g.indexReads(ctx, r); err != nil {
		return nil, err
	}
	return g, nil
}

// parseAll parses files on all CPUs; results keep the order of jobs so the
// graph and its diagnostics are deterministic.
func (s *Scanner) parseAll(ctx context.Context, root *os.Root, jobs []parseJob) ([]fileResult, error) {
	results := make([]fileResult, len(jobs))
	errs := make([]error, len(jobs))
	var next atomic.Int64
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	for range workers {
		wg.Go(func() {
			r := &reader{root: root}
			defer r.close()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) || ctx.Err() != nil {
					return
				}
				j := jobs[i]
				results[i], errs[i] = s.parseFile(r, j.rel)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return results, nil
}

// isBadLink reports whether rel is a symlink that does not lead to a
// regular file inside root: bad content, not a broken disk.
func isBadLink(root *os.Root, rel string) bool {
	fi, err := root.Lstat(rel)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return false
	}
	target, err := root.Stat(rel)
	return err != nil || !target.Mode().IsRegular()
}

func build(jobs []parseJob, results []fileResult) *Graph {
	g := &Graph{dirs: map[string]*Dir{}, callers: map[string][]string{}, reads: map[string][]fileRead{}}
	type callSite struct {
		from, target string
		call         moduleCall
	}
	var sites []callSite
	firstBackend := map[string]backendDecl{}
	for i, j := range jobs {
		r := results[i]
		d := g.dirs[j.dir]
		if d == nil {
			d = &Dir{Path: j.dir}
			g.dirs[j.dir] = d
		}
		d.Files = append(d.Files, j.rel)
		d.Broken = d.Broken || r.broken
		g.reads[j.dir] = append(g.reads[j.dir], r.reads...)
		g.diags = append(g.diags, r.diags...)
		for _, b := range r.backends {
			if first, ok := firstBackend[j.dir]; ok {
				g.diags = append(g.diags, Diagnostic{File: b.file, Line: b.line,
					Message: fmt.Sprintf("duplicate backend block; the first is at %s:%d", first.file, first.line)})
				continue
			}
			firstBackend[j.dir] = b
			d.Project, d.Backend = true, b.kind
		}
		for _, mc := range r.modules {
			target, local, escapes := resolveSource(j.dir, mc.source)
			switch {
			case !local:
				// Registry and remote sources cannot change with this repo.
			case escapes:
				g.diags = append(g.diags, Diagnostic{File: mc.file, Line: mc.line,
					Message: fmt.Sprintf("module %q: source %q points outside the repository; not followed", mc.name, mc.source)})
			default:
				sites = append(sites, callSite{from: j.dir, target: target, call: mc})
			}
		}
	}
	for _, s := range sites {
		if _, ok := g.dirs[s.target]; !ok {
			g.diags = append(g.diags, Diagnostic{File: s.call.file, Line: s.call.line,
				Message: fmt.Sprintf("module %q: source %q: no .tf files in %s", s.call.name, s.call.source, s.target)})
		}
		d := g.dirs[s.from]
		if !contains(d.Calls, s.target) {
			d.Calls = append(d.Calls, s.target)
		}
		if !contains(g.callers[s.target], s.from) {
			g.callers[s.target] = append(g.callers[s.target], s.from)
		}
	}
	for _, d := range g.dirs {
		sort.Strings(d.Calls)
		sort.Strings(d.Files)
	}
	for _, c := range g.callers {
		sort.Strings(c)
	}
	sort.SliceStable(g.diags, func(i, j int) bool {
		a, b := g.diags[i], g.diags[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return g
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// resolveSource reports whether source is a local path (terraform's rule:
// it starts with ./ or ../) and, if so, the repo-relative dir it names and
// whether that leaves the repository.
func resolveSource(fromDir, source string) (target string, local, escapes bool) {
	if !strings.HasPrefix(source, "./") && !strings.HasPrefix(source, "../") {
		return "", false, false
	}
	target = path.Clean(path.Join(fromDir, source))
	if target == ".." || strings.HasPrefix(target, "../") {
		return "", true, true
	}
	return target, true, false
}

// ServiceEnv reads a project dir laid out as exactly
// microservices/<service>/<env>: the service and environment it belongs to,
// which choose its identity and its name rules. Any other dir, deeper ones
// included, belongs to no service: a directory placed under another
// team's tree cannot pass for that team's project.
func ServiceEnv(dir string) (service, env string, ok bool) {
	parts := strings.Split(strings.Trim(dir, "/"), "/")
	if len(parts) != 3 || parts[0] != "microservices" || parts[1] == "" || parts[2] == "" {
		return "", "", false
	}
	return parts[1], parts[2], true
}
