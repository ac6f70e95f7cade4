package policy

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is the outcome of one Rego unit test (a test_* rule).
type TestResult struct {
	Package  string
	Name     string
	Location string // file:line of the test rule
	Pass     bool
	Skip     bool
	Err      error  // evaluation error, if the test could not run
	FailedAt string // file:line of the expression that failed
	Output   string // print() output of the test
	Duration time.Duration
}

// TestOptions configure Test.
type TestOptions struct {
	// Params as in Options; the tests see DefaultParams overridden by these.
	Params map[string]any
	// Run, when set, is a regexp selecting tests by package and name.
	Run string
	// Timeout per test; 0 means 30s.
	Timeout time.Duration
}

// Test runs the Rego unit tests (*_test.rego) in policies with OPA's tester,
// compiled with the same restricted builtins as the Engine. The error is
// for policies that do not compile; failing tests are reported in results.
func Test(ctx context.Context, policies fs.FS, opts TestOptions) ([]TestResult, error) {
	modules, err := parsePolicies(policies, true)
	if err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	runner := tester.NewRunner().
		SetCompiler(newCompiler().WithEnablePrintStatements(true)).
		SetStore(newStore(mergeParams(opts.Params))).
		SetModules(modules).
		SetTimeout(opts.Timeout).
		CapturePrintOutput(true).
		RaiseBuiltinErrors(true).
		SetDefaultRegoVersion(ast.RegoV1)
	if opts.Run != "" {
		runner = runner.Filter(opts.Run)
	}
	ch, err := runner.RunTests(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("compile policy tests:\n%s", strings.Join(regoErrors(err), "\n"))
	}
	var out []TestResult
	for r := range ch {
		tr := TestResult{
			Package: strings.TrimPrefix(r.Package, "data."), Name: r.Name,
			Pass: r.Pass(), Skip: r.Skip, Err: r.Error, Output: string(r.Output), Duration: r.Duration,
		}
		if r.Location != nil {
			tr.Location = fmt.Sprintf("%s:%d", r.Location.File, r.Location.Row)
		}
		if r.FailedAt != nil && r.FailedAt.Location != nil {
			tr.FailedAt = fmt.Sprintf("%s:%d", r.FailedAt.Location.File, r.FailedAt.Location.Row)
		}
		out = append(out, tr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Package != out[j].Package {
			return out[i].Package < out[j].Package
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}
