package lintcmd

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/tfpr/tfpr/internal/policy"
)

// Output formats of `tfpr lint`: text, json, github workflow commands and
// SARIF 2.1.0.

func summary(fs []policy.Finding, counts lintCounts) string {
	var deny, warn, suppressed int
	for _, f := range fs {
		switch {
		case f.Suppressed:
			suppressed++
		case f.Severity == policy.SeverityDeny:
			deny++
		default:
			warn++
		}
	}
	return fmt.Sprintf("tfpr lint: %d projects, %d modules, %d deny, %d warn, %d suppressed", counts.projects, counts.modules, deny, warn, suppressed)
}

type lintWriter func(w io.Writer, fs []policy.Finding, rules []policy.RuleInfo) error

func writerFor(format string) (lintWriter, bool) {
	switch format {
	case "text":
		return writeText, true
	case "json":
		return writeJSON, true
	case "sarif":
		return writeSARIF, true
	case "github":
		return writeGitHub, true
	}
	return nil, false
}

func location(f policy.Finding) string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return f.File
}

func writeText(w io.Writer, fs []policy.Finding, _ []policy.RuleInfo) error {
	for _, f := range fs {
		line := fmt.Sprintf("%s: [%s] %s: %s", location(f), f.Severity, f.Rule, f.Message)
		if f.Suppressed {
			line += fmt.Sprintf(" (suppressed: %s)", f.SuppressReason)
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

func writeJSON(w io.Writer, fs []policy.Finding, _ []policy.RuleInfo) error {
	if fs == nil {
		fs = []policy.Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(fs)
}

// escapeData and escapeProperty follow the GitHub Actions workflow command
// encoding, so messages cannot inject further commands.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

func writeGitHub(w io.Writer, fs []policy.Finding, _ []policy.RuleInfo) error {
	for _, f := range fs {
		cmd, msg := "error", f.Message
		switch {
		case f.Suppressed:
			cmd, msg = "notice", fmt.Sprintf("%s (suppressed: %s)", msg, f.SuppressReason)
		case f.Severity == policy.SeverityWarn:
			cmd = "warning"
		}
		props := "file=" + escapeProperty(f.File)
		if f.Line > 0 {
			props += fmt.Sprintf(",line=%d", f.Line)
			if f.EndLine > f.Line {
				props += fmt.Sprintf(",endLine=%d", f.EndLine)
			}
		}
		title := f.Rule
		if f.Title != "" {
			title += " " + f.Title
		}
		props += ",title=" + escapeProperty(title)
		if _, err := fmt.Fprintf(w, "::%s %s::%s\n", cmd, props, escapeData(msg)); err != nil {
			return err
		}
	}
	return nil
}

// SARIF 2.1.0, the subset GitHub code scanning reads.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string      `json:"id"`
	ShortDescription     sarifText   `json:"shortDescription"`
	FullDescription      *sarifText  `json:"fullDescription,omitempty"`
	DefaultConfiguration sarifConfig `json:"defaultConfiguration"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID       string             `json:"ruleId"`
	Level        string             `json:"level"`
	Message      sarifText          `json:"message"`
	Locations    []sarifLocation    `json:"locations"`
	Suppressions []sarifSuppression `json:"suppressions,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
	EndLine   int `json:"endLine,omitempty"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification,omitempty"`
}

func sarifLevel(s policy.Severity) string {
	if s == policy.SeverityDeny {
		return "error"
	}
	return "warning"
}

func writeSARIF(w io.Writer, fs []policy.Finding, rules []policy.RuleInfo) error {
	driver := sarifDriver{Name: "tfpr", Rules: []sarifRule{}}
	known := map[string]bool{}
	for _, r := range rules {
		sr := sarifRule{ID: r.ID, ShortDescription: sarifText{r.Title}, DefaultConfiguration: sarifConfig{sarifLevel(r.Severity)}}
		if r.Description != "" {
			sr.FullDescription = &sarifText{r.Description}
		}
		driver.Rules = append(driver.Rules, sr)
		known[r.ID] = true
	}
	results := []sarifResult{}
	for _, f := range fs {
		if !known[f.Rule] {
			// tfpr's own rules (parse, policy-error, suppression).
			known[f.Rule] = true
			driver.Rules = append(driver.Rules, sarifRule{ID: f.Rule, ShortDescription: sarifText{f.Title}, DefaultConfiguration: sarifConfig{sarifLevel(f.Severity)}})
		}
		loc := sarifPhysical{ArtifactLocation: sarifArtifact{URI: f.File}}
		if f.Line > 0 {
			loc.Region = &sarifRegion{StartLine: f.Line, EndLine: max(f.EndLine, f.Line)}
		}
		r := sarifResult{RuleID: f.Rule, Level: sarifLevel(f.Severity), Message: sarifText{f.Message}, Locations: []sarifLocation{{loc}}}
		if f.Suppressed {
			r.Suppressions = []sarifSuppression{{Kind: "inSource", Justification: f.SuppressReason}}
		}
		results = append(results, r)
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{{Tool: sarifTool{Driver: driver}, Results: results}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}
