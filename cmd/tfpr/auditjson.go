package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/tfpr/tfpr/internal/store"
)

// auditEntry is one apply in `tfpr audit --format json`, with full commit
// and plan hashes and RFC 3339 times (absent when the apply has not
// finished).
type auditEntry struct {
	Repo       string       `json:"repo"`
	Project    string       `json:"project"`
	Commit     string       `json:"commit"`
	PR         int          `json:"pr"`
	MergedBy   string       `json:"merged_by,omitempty"`
	ApprovedBy string       `json:"approved_by,omitempty"`
	RetriedBy  string       `json:"retried_by,omitempty"`
	PlanHash   string       `json:"plan_sha256,omitempty"`
	Outcome    store.Status `json:"outcome"`
	Summary    string       `json:"summary,omitempty"`
	Created    *time.Time   `json:"created,omitempty"`
	Finished   *time.Time   `json:"finished,omitempty"`
}

func writeAuditJSON(stdout, stderr io.Writer, runs []store.Run) int {
	out := make([]auditEntry, 0, len(runs))
	for _, r := range runs {
		out = append(out, auditEntry{Repo: r.Repo, Project: r.Project, Commit: r.SHA, PR: r.PR, MergedBy: r.MergedBy,
			ApprovedBy: r.ApprovedBy, RetriedBy: r.RetriedBy, PlanHash: r.PlanHash, Outcome: r.Status, Summary: r.Summary,
			Created: timeOrNil(r.Created), Finished: timeOrNil(r.Finished)})
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(stderr, "tfpr audit: write: %v\n", err)
		return 1
	}
	return 0
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
