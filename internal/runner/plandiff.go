package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// planContent is what a plan would do, read from terraform's JSON form:
// every resource change and output change, each with its actions and its
// before and after values flattened to attribute paths. Sensitive values
// are kept only as a hash, values unknown until apply as a marker, so the
// content can be compared, hashed and shown without holding secrets.
type planContent struct {
	Changes map[string]changeContent `json:"changes"` // by resource address, or "output.NAME"
}

type changeContent struct {
	Actions string            `json:"actions"`
	Before  map[string]string `json:"before"`
	After   map[string]string `json:"after"`
}

// Leaf encodings inside Before/After: a JSON value, or one of these.
const (
	sensitivePrefix = "\x00sensitive:"
	unknownLeaf     = "\x00unknown"
)

// planJSONShape is the part of `terraform show -json` that planContent reads.
type planJSONShape struct {
	ResourceChanges []struct {
		Address string     `json:"address"`
		Change  changeJSON `json:"change"`
	} `json:"resource_changes"`
	OutputChanges map[string]changeJSON `json:"output_changes"`
}

type changeJSON struct {
	Actions         []string        `json:"actions"`
	Before          json.RawMessage `json:"before"`
	After           json.RawMessage `json:"after"`
	AfterUnknown    json.RawMessage `json:"after_unknown"`
	BeforeSensitive json.RawMessage `json:"before_sensitive"`
	AfterSensitive  json.RawMessage `json:"after_sensitive"`
}

// readPlanContent parses a plan's JSON form. No-op changes are left out:
// they change nothing, and their presence depends on what is in state.
func readPlanContent(js []byte) (planContent, error) {
	var raw planJSONShape
	if err := json.Unmarshal(js, &raw); err != nil {
		return planContent{}, fmt.Errorf("read plan JSON: %w", err)
	}
	pc := planContent{Changes: map[string]changeContent{}}
	add := func(key string, c changeJSON) error {
		if len(c.Actions) == 0 || (len(c.Actions) == 1 && (c.Actions[0] == "no-op" || c.Actions[0] == "read")) {
			return nil
		}
		cc := changeContent{Actions: strings.Join(c.Actions, ","), Before: map[string]string{}, After: map[string]string{}}
		if err := flatten(cc.Before, "", decode(c.Before), decode(c.BeforeSensitive), nil); err != nil {
			return fmt.Errorf("read plan JSON: %s before: %w", key, err)
		}
		if err := flatten(cc.After, "", decode(c.After), decode(c.AfterSensitive), decode(c.AfterUnknown)); err != nil {
			return fmt.Errorf("read plan JSON: %s after: %w", key, err)
		}
		pc.Changes[key] = cc
		return nil
	}
	for _, rc := range raw.ResourceChanges {
		if err := add(rc.Address, rc.Change); err != nil {
			return planContent{}, err
		}
	}
	for name, c := range raw.OutputChanges {
		if err := add("output."+name, c); err != nil {
			return planContent{}, err
		}
	}
	return pc, nil
}

func decode(raw json.RawMessage) any {
	var v any
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &v) // malformed masks read as "nothing marked"
	}
	return v
}

// maxFlattenDepth bounds recursion on hostile plan JSON; terraform values
// nest far less deeply.
const maxFlattenDepth = 64

// flatten writes each leaf of v under its attribute path into out. sens and
// unknown mirror v's shape, with true where the value is sensitive or not
// known until apply (terraform's before_sensitive/after_unknown).
func flatten(out map[string]string, path string, v, sens, unknown any) error {
	return flattenDepth(out, path, v, sens, unknown, 0)
}

func flattenDepth(out map[string]string, path string, v, sens, unknown any, depth int) error {
	if depth > maxFlattenDepth {
		return fmt.Errorf("%s: nested deeper than %d levels", pathOrRoot(path), maxFlattenDepth)
	}
	if b, ok := unknown.(bool); ok && b {
		out[path] = unknownLeaf
		return nil
	}
	if b, ok := sens.(bool); ok && b {
		raw, _ := json.Marshal(v)
		sum := sha256.Sum256(raw)
		out[path] = sensitivePrefix + hex.EncodeToString(sum[:])
		return nil
	}
	switch t := v.(type) {
	case map[string]any:
		sm, _ := sens.(map[string]any)
		um, _ := unknown.(map[string]any)
		keys := slices.Sorted(maps.Keys(t))
		for k := range um {
			if _, ok := t[k]; !ok {
				keys = append(keys, k) // unknown attributes are absent from after
			}
		}
		for _, k := range keys {
			if err := flattenDepth(out, joinPath(path, k), t[k], sm[k], um[k], depth+1); err != nil {
				return err
			}
		}
		if len(keys) == 0 {
			out[path] = "{}"
		}
		return nil
	case []any:
		sl, _ := sens.([]any)
		ul, _ := unknown.([]any)
		n := max(len(t), len(ul))
		for i := 0; i < n; i++ {
			var e, s, u any
			if i < len(t) {
				e = t[i]
			}
			if i < len(sl) {
				s = sl[i]
			}
			if i < len(ul) {
				u = ul[i]
			}
			if err := flattenDepth(out, path+"["+strconv.Itoa(i)+"]", e, s, u, depth+1); err != nil {
				return err
			}
		}
		if n == 0 {
			out[path] = "[]"
		}
		return nil
	default:
		raw, _ := json.Marshal(t)
		out[path] = string(raw)
		return nil
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func pathOrRoot(p string) string {
	if p == "" {
		return "(whole value)"
	}
	return p
}

// valueChange is one difference between the reviewed and the applied plan.
type valueChange struct {
	Address  string // resource address or "output.NAME"
	Path     string // attribute path; "" for the change as a whole
	Reviewed string // as shown: a JSON value, "absent", "(sensitive)", ...
	Applied  string
}

// comparePlans lists every way the applied plan differs from the reviewed
// one, sorted by address and path: changes present in one plan only,
// different actions, and different before or after values. Sensitive
// values are compared by hash and never shown.
func comparePlans(reviewed, applied planContent) []valueChange {
	var out []valueChange
	addrs := slices.Sorted(maps.Keys(reviewed.Changes))
	for a := range applied.Changes {
		if _, ok := reviewed.Changes[a]; !ok {
			addrs = append(addrs, a)
		}
	}
	slices.Sort(addrs)
	for _, a := range addrs {
		r, inR := reviewed.Changes[a]
		p, inP := applied.Changes[a]
		switch {
		case !inR:
			out = append(out, valueChange{Address: a, Reviewed: "no change", Applied: p.Actions})
			continue
		case !inP:
			out = append(out, valueChange{Address: a, Reviewed: r.Actions, Applied: "no change"})
			continue
		}
		if r.Actions != p.Actions {
			out = append(out, valueChange{Address: a, Path: "(actions)", Reviewed: r.Actions, Applied: p.Actions})
		}
		out = append(out, compareValues(a, " (current value)", r.Before, p.Before)...)
		out = append(out, compareValues(a, "", r.After, p.After)...)
	}
	return out
}

func compareValues(addr, suffix string, reviewed, applied map[string]string) []valueChange {
	var out []valueChange
	paths := slices.Sorted(maps.Keys(reviewed))
	for p := range applied {
		if _, ok := reviewed[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	for _, p := range paths {
		r, inR := reviewed[p]
		a, inA := applied[p]
		if inR && inA && r == a {
			continue
		}
		vc := valueChange{Address: addr, Path: pathOrRoot(p) + suffix, Reviewed: showLeaf(r, inR), Applied: showLeaf(a, inA)}
		if strings.HasPrefix(r, sensitivePrefix) || strings.HasPrefix(a, sensitivePrefix) {
			vc.Reviewed, vc.Applied = "(sensitive)", "(sensitive, changed)"
		}
		out = append(out, vc)
	}
	return out
}

func showLeaf(v string, present bool) string {
	switch {
	case !present:
		return "absent"
	case v == unknownLeaf:
		return "(known after apply)"
	}
	return v
}

// digest is a stable hash of the plan's content: equal for two plans that
// would make the same changes with the same values, whenever they were
// made. Approvals bind to it.
func (pc planContent) digest() string {
	raw, _ := json.Marshal(pc) // map keys marshal sorted
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// maxShownValue bounds one value in a PR comment; the check run and the
// audit log say the rest.
const maxShownValue = 200

// describe renders one difference for a PR comment, with every part that
// comes from the plan in a code span it cannot break out of.
func (vc valueChange) describe() string {
	where := codeSpan(vc.Address)
	if vc.Path != "" {
		where += " " + codeSpan(vc.Path)
	}
	return fmt.Sprintf("%s: %s → %s", where, codeSpan(clip(vc.Reviewed, maxShownValue)), codeSpan(clip(vc.Applied, maxShownValue)))
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// codeSpan wraps s in a markdown code span delimited by more backticks
// than any run inside it, on one line.
func codeSpan(s string) string {
	s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	return fence + " " + s + " " + fence
}
