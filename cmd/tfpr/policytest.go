package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/tfpr/tfpr/internal/lintcmd"
	"github.com/tfpr/tfpr/internal/policy"
)

const policyTestUsage = `usage: tfpr policy test [--run REGEXP] [DIR]

Runs the Rego unit tests (*_test.rego) in DIR, default the built-in
policies, and checks that the policies load as tfpr lint would load them.
Exit status: 0 all passed, 1 a test failed, 2 usage or compile error.

`

// runPolicyTest implements `tfpr policy test`.
func runPolicyTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("tfpr policy test", flag.ContinueOnError)
	fset.SetOutput(stderr)
	run := fset.String("run", "", "only run tests whose package.name matches `REGEXP`")
	fset.Usage = func() {
		fmt.Fprint(stderr, policyTestUsage)
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fset.NArg() > 1 {
		fset.Usage()
		return 2
	}
	pfs, err := lintcmd.PolicyFS(fset.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "tfpr policy test: %v\n", err)
		return 2
	}
	results, err := policy.Test(ctx, pfs, policy.TestOptions{Run: *run})
	if err != nil {
		fmt.Fprintf(stderr, "tfpr policy test: %v\n", err)
		return 2
	}
	var passed, failed, skipped int
	for _, r := range results {
		name := r.Package + "." + r.Name
		switch {
		case r.Skip:
			skipped++
			fmt.Fprintf(stdout, "SKIP  %s\n", name)
		case r.Err != nil:
			failed++
			fmt.Fprintf(stdout, "ERROR %s (%s): %v\n", name, r.Location, r.Err)
		case !r.Pass:
			failed++
			fmt.Fprintf(stdout, "FAIL  %s (%s)\n", name, r.Location)
			if r.FailedAt != "" {
				fmt.Fprintf(stdout, "      failed at %s\n", r.FailedAt)
			}
		default:
			passed++
			fmt.Fprintf(stdout, "PASS  %s (%s)\n", name, r.Duration.Round(1000))
		}
		if r.Output != "" && (r.Err != nil || !r.Pass) {
			fmt.Fprintf(stdout, "      output: %s", r.Output)
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed", passed, failed)
	if skipped > 0 {
		fmt.Fprintf(stdout, ", %d skipped", skipped)
	}
	fmt.Fprintln(stdout)
	if len(results) == 0 {
		fmt.Fprintln(stderr, "tfpr policy test: no Rego tests found")
		return 1
	}
	// Tests can pass on policies lint would refuse (no METADATA, unsafe
	// builtins), so load them the same way.
	if _, err := policy.New(ctx, pfs, policy.Options{}); err != nil {
		fmt.Fprintf(stderr, "tfpr policy test: policies do not load: %v\n", err)
		return 1
	}
	if failed > 0 {
		return 1
	}
	return 0
}

const policyUsage = `usage:
  tfpr policy test [--run REGEXP] [DIR]   run the Rego unit tests of a policy directory
  tfpr policy list [DIR]                  list its rules: id, stage, severity, title

DIR defaults to the built-in policies.
`

// runPolicy dispatches `tfpr policy SUBCOMMAND`.
func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return 2
	}
	switch args[0] {
	case "test":
		return runPolicyTest(ctx, args[1:], stdout, stderr)
	case "list":
		return runPolicyList(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, policyUsage)
		return 0
	}
	fmt.Fprintf(stderr, "tfpr policy: unknown subcommand %q\n\n%s", args[0], policyUsage)
	return 2
}

// runPolicyList implements `tfpr policy list`: the rules a policy dir
// defines, as tfpr loads them.
func runPolicyList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("tfpr policy list", flag.ContinueOnError)
	fset.SetOutput(stderr)
	format := fset.String("format", "text", "output `format`: text or json")
	fset.Usage = func() {
		fmt.Fprint(stderr, "usage: tfpr policy list [--format text|json] [DIR]\n\nLists the rules of the policies in DIR (default the built-in ones).\n\n")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fset.NArg() > 1 || (*format != "text" && *format != "json") {
		fset.Usage()
		return 2
	}
	pfs, err := lintcmd.PolicyFS(fset.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "tfpr policy list: %v\n", err)
		return 2
	}
	engine, err := policy.New(ctx, pfs, policy.Options{NoCache: true})
	if err != nil {
		fmt.Fprintf(stderr, "tfpr policy list: policies%s: %v\n", lintcmd.InDir(fset.Arg(0)), err)
		return 2
	}
	rules := engine.Rules()
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	// The engine's own checks apply whatever the directory holds.
	rules = append(rules, policy.BuiltinRules()...)
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rules); err != nil {
			return 2
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTAGE\tSEVERITY\tTITLE")
	for _, r := range rules {
		stages := r.Stage
		if len(r.Stages) > 0 {
			stages = strings.Join(r.Stages, ",")
		}
		title := r.Title
		if r.Package == "(built in)" {
			title += " (built in)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, stages, r.Severity, title)
	}
	if err := tw.Flush(); err != nil {
		return 2
	}
	return 0
}
