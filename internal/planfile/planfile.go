// Package planfile keeps saved terraform plans between the PR plan and the
// apply on merge. Plans can hold secrets, so files are 0600 locally and,
// in GCS, optionally encrypted with a customer-supplied key on top of the
// bucket's own (CMEK) encryption. A plan is written here before it is
// reported, so any replica can apply what a reviewer saw.
package planfile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/tfpr/tfpr/internal/gcs"
)

// Store saves and fetches plan artifacts by key (a slash path).
type Store interface {
	// Put copies the local file src under key and returns its sha256.
	Put(ctx context.Context, key, src string) (hash string, err error)
	// Get copies key to the local file dst (0600).
	Get(ctx context.Context, key, dst string) error
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// ErrNotFound is returned by Get for a missing key.
var ErrNotFound = errors.New("plan file not found")

func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || path.Clean(key) != key || strings.HasPrefix(key, "../") || key == ".." {
		return fmt.Errorf("invalid plan key %q", key)
	}
	return nil
}

// Local stores plans under a directory.
type Local struct{ Dir string }

// Put implements Store.
func (l Local) Put(ctx context.Context, key, src string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	dst := filepath.Join(l.Dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", fmt.Errorf("store plan %s: %w", key, err)
	}
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("store plan %s: %w", key, err)
	}
	defer in.Close()
	hash, err := writeFile(dst, in)
	if err != nil {
		return "", fmt.Errorf("store plan %s: %w", key, err)
	}
	return hash, nil
}

// Get implements Store.
func (l Local) Get(ctx context.Context, key, dst string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	in, err := os.Open(filepath.Join(l.Dir, filepath.FromSlash(key)))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("plan %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("read plan %s: %w", key, err)
	}
	defer in.Close()
	if _, err := writeFile(dst, in); err != nil {
		return fmt.Errorf("read plan %s: %w", key, err)
	}
	return nil
}

// Delete implements Store.
func (l Local) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := os.Remove(filepath.Join(l.Dir, filepath.FromSlash(key)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete plan %s: %w", key, err)
	}
	return nil
}

// writeFile writes r to dst atomically (temp file, fsync, rename) with mode
// 0600 and returns the content's sha256.
func writeFile(dst string, r io.Reader) (string, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".plan-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), r); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), os.Rename(tmp.Name(), dst)
}

// GCS stores plans in a bucket, under Prefix.
type GCS struct {
	Client *gcs.Client
	Bucket string
	Prefix string
	// Key, when set, is a 32-byte AES-256 customer-supplied encryption key:
	// GCS never stores it, so the bucket's readers cannot read plans.
	Key gcs.Key
}

// Put implements Store.
func (g GCS) Put(ctx context.Context, key, src string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("store plan %s: %w", key, err)
	}
	defer in.Close()
	h := sha256.New()
	if err := g.Client.Write(ctx, g.Bucket, path.Join(g.Prefix, key), io.TeeReader(in, h), g.Key); err != nil {
		return "", fmt.Errorf("store plan %s: %w", key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Get implements Store.
func (g GCS) Get(ctx context.Context, key, dst string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	obj, err := g.Client.Read(ctx, g.Bucket, path.Join(g.Prefix, key), g.Key)
	if errors.Is(err, gcs.ErrNotExist) {
		return fmt.Errorf("plan %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("fetch plan %s: %w", key, err)
	}
	if _, err := writeFile(dst, bytes.NewReader(obj.Data)); err != nil {
		return fmt.Errorf("fetch plan %s: %w", key, err)
	}
	return nil
}

// Delete implements Store.
func (g GCS) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return g.Client.Delete(ctx, g.Bucket, path.Join(g.Prefix, key))
}
