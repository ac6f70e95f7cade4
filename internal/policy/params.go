package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tfpr/tfpr/internal/suggest"
)

// maxParamsFile bounds the policy params file: it holds a few lists.
const maxParamsFile = 1 << 20

// ReadParams reads a policy params file: one JSON object whose keys
// override DefaultParams. Errors name the file and, for syntax errors, the
// line. Keys and value types are checked against the policies by New.
func ReadParams(file string) (map[string]any, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("policy params: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxParamsFile+1))
	if err != nil {
		return nil, fmt.Errorf("policy params: read %s: %w", file, err)
	}
	if len(raw) > maxParamsFile {
		return nil, fmt.Errorf("policy params: %s is over %d bytes", file, maxParamsFile)
	}
	var params map[string]any
	if err := json.Unmarshal(raw, &params); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, fmt.Errorf("policy params: %s:%d: %v", file, lineAt(raw, syn.Offset), err)
		case errors.As(err, &typ):
			return nil, fmt.Errorf("policy params: %s: want a JSON object of parameters, got %s", file, typ.Value)
		}
		return nil, fmt.Errorf("policy params: %s: %w", file, err)
	}
	if params == nil {
		return nil, fmt.Errorf("policy params: %s: want a JSON object of parameters, got null", file)
	}
	return params, nil
}

func lineAt(raw []byte, offset int64) int {
	return 1 + bytes.Count(raw[:min(int(offset), len(raw))], []byte("\n"))
}

// checkParams refuses override keys no policy reads and values whose JSON
// type differs from the default's: a typo such as alowed_providers would
// otherwise leave the default in force without a word. Keys the policies
// read beyond the defaults (data.tfpr.params.NAME) are accepted as they are.
func checkParams(override map[string]any, modules map[string]*ast.Module) error {
	defaults := DefaultParams()
	known := map[string]bool{}
	for k := range defaults {
		known[k] = true
	}
	anyKey := false
	prefix := ast.MustParseRef("data.tfpr.params")
	for _, m := range modules {
		ast.WalkRefs(m, func(r ast.Ref) bool {
			if !r.HasPrefix(prefix) {
				return false
			}
			if len(r) == len(prefix) {
				// The whole object is read (or aliased): any key may matter.
				anyKey = true
				return false
			}
			if s, ok := r[len(prefix)].Value.(ast.String); ok {
				known[string(s)] = true
			} else {
				anyKey = true
			}
			return false
		})
	}
	var errs []error
	keys := make([]string, 0, len(override))
	for k := range override {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		def, isDefault := defaults[k]
		if !known[k] && !anyKey {
			msg := fmt.Sprintf("policy params: unknown key %q: no policy reads it", k)
			if s := suggest.Closest(k, slices.Sorted(maps.Keys(known))); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			errs = append(errs, errors.New(msg))
			continue
		}
		if isDefault {
			if want, got := jsonKind(def), jsonKind(override[k]); want != got {
				errs = append(errs, fmt.Errorf("policy params: %s must be %s, got %s %s", k, want, got, short(override[k])))
			} else if want == "a list of strings" {
				if _, err := stringsParam(override, k); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int, int64, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any, []string:
		return "a list of strings"
	case map[string]any:
		return "an object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 40 {
		b = append(b[:37], "..."...)
	}
	return string(b)
}
