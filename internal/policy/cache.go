package policy

import (
	"crypto/sha256"
	"encoding/hex"

	lru "github.com/hashicorp/golang-lru/v2"
)

// fileCacheSize bounds the parsed files an Engine keeps. Local modules are
// shared by many projects, so parsing each version once is most of the win.
const fileCacheSize = 8192

// fileCache maps file path, module and content hash to the parsed file.
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

func (c *fileCache) parse(rel, module string, src []byte) *sourceFile {
	if c == nil {
		return parseSource(rel, module, src)
	}
	sum := sha256.Sum256(src)
	key := module + "\x00" + rel + "\x00" + hex.EncodeToString(sum[:])
	if sf, ok := c.lru.Get(key); ok {
		return sf
	}
	sf := parseSource(rel, module, src)
	c.lru.Add(key, sf)
	return sf
}
