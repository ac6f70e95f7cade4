package policy

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Evaluation limits. A value over them is unknown: the rules that need it
// warn at lint and check it at plan. They keep hostile configurations
// (locals doubling a string, huge ranges) from costing more than a few
// megabytes or a moment per module.
const (
	maxValueString = 4 << 10 // bytes of one string
	maxValueLeaves = 1024    // strings, numbers, bools and nulls in one value
	maxValueDepth  = 32      // nesting of collections
	maxExprNodes   = 2048    // syntax nodes of one expression
	maxForNodes    = 64      // syntax nodes of an expression holding a for
	maxLocalDepth  = 32      // locals referring to locals
	maxInstances   = 256     // count or for_each instances evaluated per block
	evalTimeLimit  = time.Second
)

var errTooLarge = errors.New("value over the evaluation limits")

// budget is the time one module's evaluation may take. Past it every
// expression is unknown.
type budget struct{ deadline time.Time }

func newBudget() *budget { return &budget{deadline: time.Now().Add(evalTimeLimit)} }

func (b *budget) spent() bool { return time.Now().After(b.deadline) }

// bound returns v, or an unknown value when v is over the limits.
func (b *budget) bound(v cty.Value) cty.Value {
	leaves := 0
	if !withinLimits(v, 0, &leaves) {
		return cty.DynamicVal
	}
	return v
}

// withinLimits walks v, stopping as soon as it is over the limits, so a
// value built to be huge costs no more than the limits to check.
func withinLimits(v cty.Value, depth int, leaves *int) bool {
	if depth > maxValueDepth {
		return false
	}
	v, _ = v.Unmark()
	if !v.IsKnown() || v.IsNull() {
		*leaves++
		return *leaves <= maxValueLeaves
	}
	t := v.Type()
	switch {
	case t == cty.String:
		*leaves++
		return *leaves <= maxValueLeaves && len(v.AsString()) <= maxValueString
	case t.IsPrimitiveType():
		*leaves++
		return *leaves <= maxValueLeaves
	case t.IsListType(), t.IsSetType(), t.IsTupleType(), t.IsMapType(), t.IsObjectType():
		if v.LengthInt() > maxValueLeaves {
			return false
		}
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			if !withinLimits(ev, depth+1, leaves) {
				return false
			}
		}
		return true
	}
	// Capsules and anything else terraform code cannot write.
	return false
}

// wideFormat finds a width or precision large enough to allocate much.
var wideFormat = regexp.MustCompile(`%[-+# 0]*[0-9]{4,}|\.[0-9]{4,}`)

// preChecks refuse arguments that would make a function allocate far more
// than its result's limits before the result could be checked.
var preChecks = map[string]func(args []cty.Value) error{
	"range": func(args []cty.Value) error {
		nums := make([]float64, 0, 3)
		for _, a := range args {
			if !a.IsKnown() || a.IsNull() || a.Type() != cty.Number {
				return nil
			}
			f, _ := a.AsBigFloat().Float64()
			nums = append(nums, f)
		}
		start, end, step := 0.0, 0.0, 1.0
		switch len(nums) {
		case 1:
			end = nums[0]
		case 2:
			start, end = nums[0], nums[1]
		case 3:
			start, end, step = nums[0], nums[1], nums[2]
		}
		if step == 0 || (end-start)/step > maxValueLeaves {
			return errTooLarge
		}
		return nil
	},
	"format":     checkFormat,
	"formatlist": checkFormat,
	"indent": func(args []cty.Value) error {
		if len(args) > 0 && args[0].IsKnown() && !args[0].IsNull() && args[0].Type() == cty.Number {
			if n, _ := args[0].AsBigFloat().Float64(); n > 256 {
				return errTooLarge
			}
		}
		return nil
	},
	"replace": func(args []cty.Value) error {
		// An empty search string inserts the replacement between every byte.
		if len(args) > 1 && args[1].IsKnown() && !args[1].IsNull() && args[1].Type() == cty.String && args[1].AsString() == "" {
			return errTooLarge
		}
		return nil
	},
}

func checkFormat(args []cty.Value) error {
	if len(args) > 0 && args[0].IsKnown() && !args[0].IsNull() && args[0].Type() == cty.String && wideFormat.MatchString(args[0].AsString()) {
		return errTooLarge
	}
	return nil
}

// pureFuncs are the terraform functions lint evaluates: those that depend
// only on their arguments. Nothing that reads files, the environment, the
// clock or randomness; a call to any other function is unknown.
func pureFuncs() map[string]function.Function {
	return map[string]function.Function{
		"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "floor": stdlib.FloorFunc,
		"log": stdlib.LogFunc, "max": stdlib.MaxFunc, "min": stdlib.MinFunc,
		"parseint": stdlib.ParseIntFunc, "signum": stdlib.SignumFunc,
		"chomp": stdlib.ChompFunc, "format": stdlib.FormatFunc, "formatlist": stdlib.FormatListFunc,
		"indent": stdlib.IndentFunc, "join": stdlib.JoinFunc, "lower": stdlib.LowerFunc,
		"upper": stdlib.UpperFunc, "regex": stdlib.RegexFunc, "regexall": stdlib.RegexAllFunc,
		"replace": stdlib.ReplaceFunc, "split": stdlib.SplitFunc, "strrev": stdlib.ReverseFunc,
		"substr": stdlib.SubstrFunc, "title": stdlib.TitleFunc, "trim": stdlib.TrimFunc,
		"trimprefix": stdlib.TrimPrefixFunc, "trimsuffix": stdlib.TrimSuffixFunc,
		"trimspace": stdlib.TrimSpaceFunc,
		"chunklist": stdlib.ChunklistFunc, "coalesce": stdlib.CoalesceFunc,
		"coalescelist": stdlib.CoalesceListFunc, "compact": stdlib.CompactFunc,
		"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc, "distinct": stdlib.DistinctFunc,
		"element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc, "index": stdlib.IndexFunc,
		"keys": stdlib.KeysFunc, "length": stdlib.LengthFunc, "lookup": stdlib.LookupFunc,
		"merge": stdlib.MergeFunc, "range": stdlib.RangeFunc, "reverse": stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc, "setsubtract": stdlib.SetSubtractFunc,
		"setunion": stdlib.SetUnionFunc, "slice": stdlib.SliceFunc, "sort": stdlib.SortFunc,
		"values": stdlib.ValuesFunc, "zipmap": stdlib.ZipmapFunc,
		"jsondecode": stdlib.JSONDecodeFunc, "jsonencode": stdlib.JSONEncodeFunc,
		"csvdecode": stdlib.CSVDecodeFunc,
		"tobool":    stdlib.MakeToFunc(cty.Bool), "tonumber": stdlib.MakeToFunc(cty.Number),
		"tostring": stdlib.MakeToFunc(cty.String),
		"tolist":   stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"toset":    stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tomap":    stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"try":      tryfunc.TryFunc, "can": tryfunc.CanFunc,
	}
}

// guardedFuncs wraps every pure function so that a panic inside it or a
// result over the limits is an error, which leaves the expression unknown.
// The limits on expressions and values bound one call; the time budget is
// checked before each expression. The table is immutable and shared.
func guardedFuncs() map[string]function.Function {
	fs := pureFuncs()
	for name, f := range fs {
		if name == "try" || name == "can" {
			// They take expressions, not values; what they evaluate calls
			// the guarded functions.
			continue
		}
		fs[name] = guard(name, f)
	}
	return fs
}

func guard(name string, f function.Function) function.Function {
	pre := preChecks[name]
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type: func(args []cty.Value) (t cty.Type, err error) {
			defer func() {
				if r := recover(); r != nil {
					t, err = cty.DynamicPseudoType, fmt.Errorf("%s: %v", name, r)
				}
			}()
			return f.ReturnTypeForValues(args)
		},
		Impl: func(args []cty.Value, retType cty.Type) (v cty.Value, err error) {
			if pre != nil {
				if err := pre(args); err != nil {
					return cty.UnknownVal(retType), err
				}
			}
			defer func() {
				if r := recover(); r != nil {
					v, err = cty.UnknownVal(retType), fmt.Errorf("%s: %v", name, r)
				}
			}()
			if name == "coalesce" {
				args = skipEmptyStrings(args)
			}
			v, err = f.Call(args)
			if err != nil {
				return cty.UnknownVal(retType), err
			}
			leaves := 0
			if !withinLimits(v, 0, &leaves) {
				return cty.UnknownVal(retType), errTooLarge
			}
			return v, nil
		},
	})
}

// skipEmptyStrings makes coalesce skip "" as terraform's does; cty's skips
// only nulls.
func skipEmptyStrings(args []cty.Value) []cty.Value {
	out := make([]cty.Value, 0, len(args))
	for _, a := range args {
		if a.IsKnown() && !a.IsNull() && a.Type() == cty.String && a.AsString() == "" {
			continue
		}
		out = append(out, a)
	}
	return out
}
