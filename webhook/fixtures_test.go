package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureRoot finds GitHub's example payloads, kept beside the module root in
// ../shared/fixtures/github-webhooks.
func fixtureRoot(tb testing.TB) string {
	tb.Helper()
	start, err := os.Getwd()
	if err != nil {
		tb.Fatalf("find fixtures: %v", err)
	}
	dir := start
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("find fixtures: no go.mod in %s or any parent; run the tests inside the tfpr module", start)
		}
		dir = parent
	}
	root := filepath.Join(dir, "..", "shared", "fixtures", "github-webhooks")
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		tb.Fatalf("find fixtures: GitHub webhook example payloads missing at %s (expected ../shared/fixtures/github-webhooks next to the module root %s)", root, dir)
	}
	return root
}

// fixture returns the payload at rel, e.g. "pull_request/opened.payload.json".
func fixture(tb testing.TB, rel string) []byte {
	tb.Helper()
	body, err := os.ReadFile(filepath.Join(fixtureRoot(tb), filepath.FromSlash(rel)))
	if err != nil {
		tb.Fatalf("read fixture: %v", err)
	}
	return body
}

// fixtureFiles lists the payloads of one event, relative to the fixture root.
func fixtureFiles(tb testing.TB, event string) []string {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(fixtureRoot(tb), event, "*.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("list fixtures for %s: found none (err %v)", event, err)
	}
	rels := make([]string, len(paths))
	for i, p := range paths {
		rels[i] = event + "/" + filepath.Base(p)
	}
	return rels
}

// removed marks a key patch deletes.
type removed struct{}

// patch sets (or, with removed{}, deletes) values at dotted paths such as
// "installation.id" in a JSON object, creating objects on the way.
func patch(tb testing.TB, body []byte, edits map[string]any) []byte {
	tb.Helper()
	doc := decode(tb, body)
	for path, v := range edits {
		keys := strings.Split(path, ".")
		obj := doc
		for _, k := range keys[:len(keys)-1] {
			next, ok := obj[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				obj[k] = next
			}
			obj = next
		}
		last := keys[len(keys)-1]
		if _, del := v.(removed); del {
			delete(obj, last)
		} else {
			obj[last] = v
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		tb.Fatalf("patch fixture: %v", err)
	}
	return out
}

func decode(tb testing.TB, body []byte) map[string]any {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		tb.Fatalf("decode fixture: %v", err)
	}
	return doc
}

// jsonDoc reads values out of a payload independently of go-github, so tests
// compare Parse's result with what the JSON says.
type jsonDoc struct {
	tb  testing.TB
	doc map[string]any
}

func (d jsonDoc) get(path string) any {
	var v any = d.doc
	for _, k := range strings.Split(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[k]
	}
	return v
}

func (d jsonDoc) str(path string) string {
	switch v := d.get(path).(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		d.tb.Fatalf("%s is %T, want string", path, v)
		return ""
	}
}

func (d jsonDoc) num(path string) int64 {
	switch v := d.get(path).(type) {
	case nil:
		return 0
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			d.tb.Fatalf("%s: %v", path, err)
		}
		return n
	default:
		d.tb.Fatalf("%s is %T, want number", path, v)
		return 0
	}
}

func (d jsonDoc) boolean(path string) bool {
	switch v := d.get(path).(type) {
	case nil:
		return false
	case bool:
		return v
	default:
		d.tb.Fatalf("%s is %T, want bool", path, v)
		return false
	}
}

func sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
