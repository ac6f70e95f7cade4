package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tfpr/tfpr/internal/store"
)

// driftEntry is one project in `tfpr drift status --format json`.
type driftEntry struct {
	Repo        string     `json:"repo"`
	Project     string     `json:"project"`
	LastChecked *time.Time `json:"last_checked,omitempty"`
	Result      string     `json:"result"`
	Summary     string     `json:"summary,omitempty"`
	Commit      string     `json:"commit,omitempty"`
	Due         *time.Time `json:"due,omitempty"`
	Issue       int        `json:"issue,omitempty"`
	IssueURL    string     `json:"issue_url,omitempty"`
}

func runDrift(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "status" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, "usage: tfpr drift status [--data-dir DIR] [--format text|json]\n")
			return 0
		}
		fmt.Fprint(stderr, "usage: tfpr drift status [--data-dir DIR] [--format text|json]\n")
		return 2
	}
	fs := flag.NewFlagSet("tfpr drift status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", envOr("TFPR_DATA_DIR", "./.tfpr"), "tfpr data `DIR` holding the store (env TFPR_DATA_DIR)")
	format := fs.String("format", "text", "output `format`: text or json")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "tfpr drift status: unknown --format %q (want text or json)\n", *format)
		return 2
	}
	st, code := openStore(ctx, "tfpr drift status", *dataDir, stderr)
	if st == nil {
		return code
	}
	defer st.Close()
	checks, err := st.DriftChecks(ctx, "")
	if err != nil {
		fmt.Fprintf(stderr, "tfpr drift status: %v\n", err)
		return 1
	}
	repos, err := st.Repos(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tfpr drift status: %v\n", err)
		return 1
	}
	web := map[string]string{}
	for _, r := range repos {
		if u := strings.TrimSuffix(r.CloneURL, ".git"); strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
			web[r.FullName] = u
		}
	}
	out := make([]driftEntry, 0, len(checks))
	for _, d := range checks {
		e := driftEntry{Repo: d.Repo, Project: d.Project, LastChecked: timeOrNil(d.LastChecked), Result: string(d.Result), Summary: d.Summary,
			Commit: d.SHA, Due: timeOrNil(d.Due), Issue: d.Issue}
		if e.Result == "" {
			e.Result = "unchecked"
		}
		if d.Issue > 0 && web[d.Repo] != "" {
			e.IssueURL = fmt.Sprintf("%s/issues/%d", web[d.Repo], d.Issue)
		}
		out = append(out, e)
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintf(stderr, "tfpr drift status: write: %v\n", err)
			return 1
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPO\tPROJECT\tLAST CHECK\tRESULT\tSUMMARY\tCOMMIT\tNEXT\tISSUE")
	for _, e := range out {
		issue := "-"
		if e.Issue > 0 {
			issue = fmt.Sprintf("#%d", e.Issue)
			if e.IssueURL != "" {
				issue = e.IssueURL
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Repo, e.Project, stamp(e.LastChecked), e.Result, dash(e.Summary),
			dash(shortSHA(e.Commit)), stamp(e.Due), issue)
	}
	tw.Flush()
	return 0
}

func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// openStore opens the server's store in dataDir for a read-only command,
// or says why it cannot (nil and the exit code).
func openStore(ctx context.Context, cmd, dataDir string, stderr io.Writer) (*store.SQLite, int) {
	path := filepath.Join(dataDir, "tfpr.db")
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintf(stderr, "%s: no store in data dir %s (%s): %v\n"+
			"point --data-dir (or TFPR_DATA_DIR) at the server's TFPR_DATA_DIR\n", cmd, dataDir, path, errors.Unwrap(err))
		return nil, 1
	}
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return nil, 1
	}
	return st, 0
}
