package policy

import (
	"context"
	"encoding/hex"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Cache sizes bound what an Engine keeps between calls. Local modules are
// shared by many projects, so parsing and evaluating each version once is
// most of the win.
const (
	fileCacheSize = 8192
	partCacheSize = 4096
)

// fileCache maps file path and content hash to the parsed file.
// A nil *fileCache parses every time.
type fileCache struct {
	lru *lru.Cache[string, *sourceFile]
}

func newFileCache() *fileCache {
	c, err := lru.New[string, *sourceFile](fileCacheSize)
	if err != nil {
		// Only a non-positive size fails, and the size is a constant.
		panic(err)
	}
	return &fileCache{lru: c}
}

func (c *fileCache) parse(rel string, sum [32]byte, src []byte, kit *termKit) *sourceFile {
	if c == nil {
		return parseSource(rel, src, kit)
	}
	key := rel + "\x00" + hex.EncodeToString(sum[:])
	if sf, ok := c.lru.Get(key); ok {
		return sf
	}
	sf := parseSource(rel, src, kit)
	c.lru.Add(key, sf)
	return sf
}

// partCache maps a directory's fingerprint and module name to its module
// part, which also carries the part's evaluation results. A nil *partCache
// builds every time.
type partCache struct {
	lru *lru.Cache[string, *modulePart]
}

func newPartCache() *partCache {
	c, err := lru.New[string, *modulePart](partCacheSize)
	if err != nil {
		panic(err)
	}
	return &partCache{lru: c}
}

func (c *partCache) get(df *dirFiles, module string, kit *termKit) *modulePart {
	if c == nil {
		return newModulePart(df.dir, module, df.files, df.vars, kit)
	}
	key := module + "\x00" + df.key
	if p, ok := c.lru.Get(key); ok {
		return p
	}
	p := newModulePart(df.dir, module, df.files, df.vars, kit)
	if prev, ok, _ := c.lru.PeekOrAdd(key, p); ok {
		return prev
	}
	return p
}

// lazy computes a value once, for concurrent callers. A computation that
// fails (only with its caller's context error) is not kept: the next
// caller runs it again, and waiting callers retry.
type lazy[T any] struct {
	mu   sync.Mutex
	wait chan struct{} // closed when the running computation ends
	done bool
	val  T
}

// peek returns the value once computed.
func (l *lazy[T]) peek() (T, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.val, l.done
}

func (l *lazy[T]) get(ctx context.Context, f func() (T, error)) (T, error) {
	var zero T
	for {
		l.mu.Lock()
		if l.done {
			v := l.val
			l.mu.Unlock()
			return v, nil
		}
		if ch := l.wait; ch != nil {
			l.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return zero, ctx.Err()
			}
		}
		ch := make(chan struct{})
		l.wait = ch
		l.mu.Unlock()
		v, err := f()
		l.mu.Lock()
		if err == nil {
			l.val, l.done = v, true
		}
		l.wait = nil
		close(ch)
		l.mu.Unlock()
		if err != nil {
			return zero, err
		}
		return v, nil
	}
}
