package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/tfpr/tfpr/internal/tfsource"
)

// defaultSettingsFile holds the platform's values for new services, at the
// root of the monorepo.
const defaultSettingsFile = "new-service.json"

// executorKind is how tfpr becomes a service's runner accounts; the
// service-accounts module grants the binding that kind needs.
type executorKind string

const (
	executorTokenCreator  executorKind = "token-creator"
	executorKubernetesJob executorKind = "kubernetes-job"
)

// platformSettings are the values every new service shares, written into
// its variables.tf as defaults.
type platformSettings struct {
	// Repository is owner/name of the monorepo, for the state prefix.
	Repository string `json:"repository"`
	// StatePrefixTemplate is TFPR_STATE_PREFIX_TEMPLATE; tfpr's default
	// when empty.
	StatePrefixTemplate  string            `json:"state_prefix_template"`
	StateBucket          string            `json:"state_bucket"`
	BillingAccount       string            `json:"billing_account"`
	Folders              map[string]string `json:"folders"`
	Region               string            `json:"region"`
	WorkloadIdentityPool string            `json:"workload_identity_pool"`
	Executor             executorKind      `json:"executor"`
	TfprServiceAccount   string            `json:"tfpr_service_account"`
	// TeamGroup is the Google group of a team, {team} standing for the
	// first owner's team slug (or user name).
	TeamGroup     string `json:"team_group"`
	ModuleSource  string `json:"module_source"`
	ModuleVersion string `json:"module_version"`
}

// exactVersion is what the default policies accept as a pinned registry
// module version (TFPR003).
var exactVersion = regexp.MustCompile(`^=?\s*v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// loadSettings reads and checks the settings file for envs.
func loadSettings(file string, envs []string) (platformSettings, error) {
	var s platformSettings
	root, err := os.OpenRoot(filepath.Dir(file))
	if err != nil {
		return s, fmt.Errorf("platform settings %s: %w (create it, see the README's \"tfpr new-service\")", file, err)
	}
	defer root.Close()
	raw, err := tfsource.ReadFile(root, filepath.Base(file), tfsource.MaxFileSize)
	if err != nil {
		return s, fmt.Errorf("platform settings %s: %w (create it, see the README's \"tfpr new-service\")", file, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return s, fmt.Errorf("%s:%d: %v", file, lineAt(raw, syn.Offset), err)
		case errors.As(err, &typ):
			return s, fmt.Errorf("%s:%d: %s: %v", file, lineAt(raw, typ.Offset), typ.Field, err)
		}
		// An unknown field carries no offset; its first occurrence does.
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			if i := bytes.Index(raw, []byte(f)); i >= 0 {
				return s, fmt.Errorf("%s:%d: %v", file, lineAt(raw, int64(i)), err)
			}
		}
		return s, fmt.Errorf("%s: %w", file, err)
	}
	if s.StatePrefixTemplate == "" {
		s.StatePrefixTemplate = "{owner}/{repo}/{dir}"
	}
	if s.Executor == "" {
		s.Executor = executorTokenCreator
	}
	if s.Region == "" {
		s.Region = "europe-west1"
	}
	required := map[string]string{
		"state_bucket": s.StateBucket, "billing_account": s.BillingAccount,
		"workload_identity_pool": s.WorkloadIdentityPool, "team_group": s.TeamGroup, "module_source": s.ModuleSource,
	}
	for _, k := range []string{"state_bucket", "billing_account", "workload_identity_pool", "team_group", "module_source"} {
		if strings.TrimSpace(required[k]) == "" {
			return s, fmt.Errorf("%s: %s is required", file, k)
		}
	}
	for _, env := range envs {
		if s.Folders[env] == "" {
			return s, fmt.Errorf("%s: folders has no folder for environment %q", file, env)
		}
	}
	if strings.Contains(s.StatePrefixTemplate, "{owner}") || strings.Contains(s.StatePrefixTemplate, "{repo}") {
		if o, n, ok := strings.Cut(s.Repository, "/"); !ok || o == "" || n == "" || strings.Contains(n, "/") {
			return s, fmt.Errorf("%s: repository must be owner/name (state_prefix_template %q uses it), got %q", file, s.StatePrefixTemplate, s.Repository)
		}
	}
	switch s.Executor {
	case executorTokenCreator:
		if s.TfprServiceAccount == "" {
			return s, fmt.Errorf("%s: executor %q needs tfpr_service_account", file, s.Executor)
		}
	case executorKubernetesJob:
	default:
		return s, fmt.Errorf("%s: executor %q is neither %q nor %q", file, s.Executor, executorTokenCreator, executorKubernetesJob)
	}
	local := strings.HasPrefix(s.ModuleSource, "./") || strings.HasPrefix(s.ModuleSource, "../")
	switch {
	case local && s.ModuleVersion != "":
		return s, fmt.Errorf("%s: module_version %q: a local module_source takes no version", file, s.ModuleVersion)
	case !local && !exactVersion.MatchString(s.ModuleVersion):
		return s, fmt.Errorf("%s: module_version %q must pin an exact version (1.2.3) of %s", file, s.ModuleVersion, s.ModuleSource)
	}
	return s, nil
}

func lineAt(raw []byte, offset int64) int {
	offset = min(max(offset, 0), int64(len(raw)))
	return bytes.Count(raw[:offset], []byte("\n")) + 1
}

// ownerLabel is the owner label of the service: the first owner's team
// slug or user name, in the characters GCP labels allow.
func ownerLabel(owner string) string {
	o := strings.TrimPrefix(owner, "@")
	if _, team, ok := strings.Cut(o, "/"); ok {
		o = team
	}
	o = strings.ToLower(o)
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, o)
}

// statePrefix is the prefix tfpr computes for the project dir, lower-cased
// as tfpr does.
func statePrefix(s platformSettings, dir string) string {
	owner, repo, _ := strings.Cut(s.Repository, "/")
	p := strings.NewReplacer("{owner}", owner, "{repo}", repo, "{dir}", dir).Replace(s.StatePrefixTemplate)
	return strings.ToLower(strings.Trim(p, "/"))
}

// hclString quotes s as an HCL string literal that evaluates to s: no
// template sequence in a setting becomes an interpolation.
func hclString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case (c == '$' || c == '%') && i+1 < len(s) && s[i+1] == '{':
			b.WriteByte(c)
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// attrs writes name = value lines aligned the way terraform fmt aligns
// them.
func attrs(b *strings.Builder, indent string, kv [][2]string) {
	w := 0
	for _, p := range kv {
		w = max(w, len(p[0]))
	}
	for _, p := range kv {
		fmt.Fprintf(b, "%s%-*s = %s\n", indent, w, p[0], p[1])
	}
}

// serviceVar is one variable of the generated variables.tf.
type serviceVar struct {
	name, description, value string
}

// renderService returns the files of microservices/<name>/<env>.
func renderService(req serviceRequest, env string, s platformSettings) map[string][]byte {
	dir := "microservices/" + req.name + "/" + env
	team := ownerLabel(req.owners[0])
	vars := []serviceVar{
		{"service", "Service id.", req.name},
		{"env", "Environment.", env},
		{"owner", "Owning team, the owner label.", team},
		{"team_group", "Google group of the team, with edit rights in the namespace.", strings.ReplaceAll(s.TeamGroup, "{team}", team)},
		{"region", "Default region of the google provider.", s.Region},
		{"billing_account", "Billing account of the project.", s.BillingAccount},
		{"folder_id", "Folder of the " + env + " projects.", s.Folders[env]},
		{"workload_identity_pool", "Workload Identity pool of the GKE clusters.", s.WorkloadIdentityPool},
		{"state_bucket", "Bucket holding Terraform state (TFPR_STATE_BUCKET).", s.StateBucket},
		{"state_prefix", "This directory's state prefix, as tfpr computes it.", statePrefix(s, dir)},
		{"executor", "How tfpr runs terraform as the service's runner accounts.", string(s.Executor)},
		{"tfpr_service_account", "tfpr's own account, for the token-creator executor.", s.TfprServiceAccount},
	}

	var main strings.Builder
	fmt.Fprintf(&main, "# %s in %s, written by tfpr new-service; the owners in CODEOWNERS maintain it.\n", req.name, env)
	main.WriteString("# tfpr supplies the state bucket and prefix at init.\n")
	main.WriteString("terraform {\n  backend \"gcs\" {}\n\n  required_providers {\n    google = {\n")
	attrs(&main, "      ", [][2]string{{"source", `"hashicorp/google"`}, {"version", `"~> 6.10"`}})
	main.WriteString("    }\n  }\n}\n\nprovider \"google\" {\n")
	attrs(&main, "  ", [][2]string{{"project", hclString(req.name + "-" + env)}, {"region", "var.region"}})
	main.WriteString("}\n\nmodule \"service\" {\n")
	head := [][2]string{{"source", hclString(s.ModuleSource)}}
	if s.ModuleVersion != "" {
		head = append(head, [2]string{"version", hclString(s.ModuleVersion)})
	}
	attrs(&main, "  ", head)
	main.WriteString("\n")
	var args [][2]string
	for _, v := range vars {
		if v.name != "region" {
			args = append(args, [2]string{v.name, "var." + v.name})
		}
	}
	attrs(&main, "  ", args)
	main.WriteString("}\n")

	var variables strings.Builder
	for i, v := range vars {
		if i > 0 {
			variables.WriteString("\n")
		}
		fmt.Fprintf(&variables, "variable %q {\n", v.name)
		attrs(&variables, "  ", [][2]string{{"type", "string"}, {"description", hclString(v.description)}, {"default", hclString(v.value)}})
		variables.WriteString("}\n")
	}

	var outputs strings.Builder
	for i, o := range []struct{ name, description string }{
		{"project_id", "The service's project."},
		{"app_email", "The application's Google service account."},
		{"apply_email", "tf-" + req.name + "-" + env + ", which tfpr applies as."},
		{"plan_email", "tf-ro-" + req.name + "-" + env + ", which tfpr plans as."},
		{"namespace", "The Kubernetes namespace."},
		{"database_id", "The Spanner database."},
	} {
		if i > 0 {
			outputs.WriteString("\n")
		}
		fmt.Fprintf(&outputs, "output %q {\n", o.name)
		attrs(&outputs, "  ", [][2]string{{"description", hclString(o.description)}, {"value", "module.service." + o.name}})
		outputs.WriteString("}\n")
	}
	return map[string][]byte{
		"main.tf":      []byte(main.String()),
		"variables.tf": []byte(variables.String()),
		"outputs.tf":   []byte(outputs.String()),
	}
}
