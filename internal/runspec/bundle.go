package runspec

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// A bundle is a tar stream: spec.json first, then the project's files under
// tree/, then, for an apply, the saved plan as plan.tfplan. Only regular
// files and directories are carried; the policy gate already refused
// symlinks in what it linted.
const (
	specName = "spec.json"
	treeDir  = "tree"
	planName = "plan.tfplan"
)

// Bundle bounds, enforced when writing and again when reading.
const (
	MaxBundleBytes = 128 << 20
	MaxFiles       = 8192
	MaxFileBytes   = 64 << 20
	maxSpecBytes   = 64 << 10
)

// SkipDirs are never bundled: git metadata, and terraform's own working
// directories, which the gate refuses in a project anyway.
var skipDirs = map[string]bool{".git": true, ".terraform": true}

// WriteBundle writes spec, the files under each of paths (relative to root,
// slash-separated; a directory is taken whole) and, for an apply, plan to w.
func WriteBundle(w io.Writer, spec Spec, root string, paths []string, plan []byte) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	if spec.Stage == Apply && SHA256(plan) != spec.PlanSHA256 {
		return fmt.Errorf("bundle for run %d: the plan file does not match the spec's hash", spec.RunID)
	}
	sj, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("bundle for run %d: encode spec: %w", spec.RunID, err)
	}
	bw := &bundleWriter{tw: tar.NewWriter(w), seen: map[string]bool{}}
	if err := bw.add(specName, sj); err != nil {
		return err
	}
	for _, p := range paths {
		if err := checkRel(p); err != nil {
			return fmt.Errorf("bundle for run %d: %w", spec.RunID, err)
		}
		if err := bw.addTree(root, p); err != nil {
			return fmt.Errorf("bundle for run %d: %w", spec.RunID, err)
		}
	}
	if spec.Stage == Apply {
		if err := bw.add(planName, plan); err != nil {
			return err
		}
	}
	return bw.tw.Close()
}

type bundleWriter struct {
	tw    *tar.Writer
	seen  map[string]bool
	files int
	bytes int64
}

func (b *bundleWriter) add(name string, data []byte) error {
	b.files++
	b.bytes += int64(len(data))
	if b.files > MaxFiles || b.bytes > MaxBundleBytes || len(data) > MaxFileBytes {
		return fmt.Errorf("bundle is over its bounds (%d files, %d bytes) at %s", MaxFiles, MaxBundleBytes, name)
	}
	if err := b.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data))}); err != nil {
		return fmt.Errorf("bundle: %s: %w", name, err)
	}
	_, err := b.tw.Write(data)
	return err
}

func (b *bundleWriter) addTree(root, rel string) error {
	return filepath.WalkDir(filepath.Join(root, filepath.FromSlash(rel)), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := path.Join(treeDir, filepath.ToSlash(r))
		switch {
		case d.IsDir() && skipDirs[d.Name()]:
			return filepath.SkipDir
		case d.IsDir():
			if b.seen[name] {
				return nil
			}
			b.seen[name] = true
			return b.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755})
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file", r)
		case b.seen[name]:
			return nil
		}
		b.seen[name] = true
		data, err := readBounded(p, MaxFileBytes)
		if err != nil {
			return err
		}
		return b.add(name, data)
	})
}

func readBounded(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, max)
	}
	return data, nil
}

// Unpacked is a bundle laid out on disk by ReadBundle.
type Unpacked struct {
	Spec Spec
	// Tree is the directory holding the project's files; the project is
	// Tree/Spec.Project.
	Tree string
	// PlanFile is the saved plan of an apply, empty for a plan.
	PlanFile string
}

// ProjectDir is where terraform runs.
func (u Unpacked) ProjectDir() string {
	return filepath.Join(u.Tree, filepath.FromSlash(u.Spec.Project))
}

// ReadBundle unpacks the bundle read from r into dest, which must be empty
// or missing. Every name is checked, sizes and counts are bounded, and files
// are created through an os.Root, so no entry can land outside dest.
func ReadBundle(r io.Reader, dest string) (Unpacked, error) {
	var u Unpacked
	if err := os.MkdirAll(dest, 0o700); err != nil {
		return u, fmt.Errorf("bundle: %w", err)
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return u, fmt.Errorf("bundle: %w", err)
	}
	defer root.Close()
	tr := tar.NewReader(io.LimitReader(r, MaxBundleBytes+64<<10))
	var files int
	var total int64
	var plan []byte
	seen := map[string]bool{}
	for i := 0; ; i++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return u, fmt.Errorf("bundle entry %d: %w", i, err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		if i == 0 && name != specName {
			return u, fmt.Errorf("bundle entry 0 is %q, want %s", h.Name, specName)
		}
		if files++; files > MaxFiles+2 {
			return u, fmt.Errorf("bundle holds more than %d entries", MaxFiles)
		}
		if seen[name] {
			return u, fmt.Errorf("bundle entry %d: %q appears twice", i, name)
		}
		seen[name] = true
		switch {
		case name == specName:
			if i != 0 {
				return u, fmt.Errorf("bundle entry %d: a second spec", i)
			}
			data, err := readEntry(tr, h, maxSpecBytes)
			if err != nil {
				return u, err
			}
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&u.Spec); err != nil {
				return u, fmt.Errorf("bundle spec: %w", err)
			}
			if err := u.Spec.Validate(); err != nil {
				return u, err
			}
		case name == planName:
			if u.Spec.Stage != Apply {
				return u, errors.New("bundle carries a plan file, but the run is not an apply")
			}
			if plan, err = readEntry(tr, h, MaxFileBytes); err != nil {
				return u, err
			}
			total += int64(len(plan))
		case strings.HasPrefix(name, treeDir+"/"):
			rel := strings.TrimPrefix(name, treeDir+"/")
			if err := checkRel(rel); err != nil {
				return u, fmt.Errorf("bundle entry %d: %w", i, err)
			}
			local := filepath.Join(treeDir, filepath.FromSlash(rel))
			switch h.Typeflag {
			case tar.TypeDir:
				if err := root.MkdirAll(local, 0o755); err != nil {
					return u, fmt.Errorf("bundle entry %s: %w", rel, err)
				}
			case tar.TypeReg:
				if total += h.Size; total > MaxBundleBytes {
					return u, fmt.Errorf("bundle is larger than %d bytes at %s", MaxBundleBytes, rel)
				}
				data, err := readEntry(tr, h, MaxFileBytes)
				if err != nil {
					return u, err
				}
				if err := root.MkdirAll(filepath.Dir(local), 0o755); err != nil {
					return u, fmt.Errorf("bundle entry %s: %w", rel, err)
				}
				if err := root.WriteFile(local, data, 0o644); err != nil {
					return u, fmt.Errorf("bundle entry %s: %w", rel, err)
				}
			default:
				return u, fmt.Errorf("bundle entry %s: type %q is neither a file nor a directory", rel, h.Typeflag)
			}
		default:
			return u, fmt.Errorf("bundle entry %d: unexpected %q", i, h.Name)
		}
	}
	if u.Spec.RunID == 0 {
		return u, errors.New("bundle is empty")
	}
	u.Tree = filepath.Join(dest, treeDir)
	if fi, err := os.Stat(u.ProjectDir()); err != nil || !fi.IsDir() {
		return u, fmt.Errorf("bundle for run %d does not hold the project %s", u.Spec.RunID, u.Spec.Project)
	}
	if u.Spec.Stage == Apply {
		if plan == nil {
			return u, fmt.Errorf("bundle for apply run %d carries no plan file", u.Spec.RunID)
		}
		if got := SHA256(plan); got != u.Spec.PlanSHA256 {
			return u, fmt.Errorf("bundle for run %d: plan file hashes to %s, the spec names %s", u.Spec.RunID, got, u.Spec.PlanSHA256)
		}
		if err := root.WriteFile(planName, plan, 0o600); err != nil {
			return u, fmt.Errorf("bundle plan file: %w", err)
		}
		u.PlanFile = filepath.Join(dest, planName)
	}
	return u, nil
}

func readEntry(tr *tar.Reader, h *tar.Header, max int64) ([]byte, error) {
	if h.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("bundle entry %s is not a regular file", h.Name)
	}
	if h.Size < 0 || h.Size > max {
		return nil, fmt.Errorf("bundle entry %s has %d bytes, over %d", h.Name, h.Size, max)
	}
	data := make([]byte, h.Size)
	if _, err := io.ReadFull(tr, data); err != nil {
		return nil, fmt.Errorf("bundle entry %s: %w", h.Name, err)
	}
	return data, nil
}

// SHA256 is the hex sha256 of b.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
