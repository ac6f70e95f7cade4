package policy_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tfpr/tfpr/internal/policy"
)

// builtinCases are the lint trees of the engine's own denials. Native files
// carry `# expect:` markers; json lists what the .tf.json files of the bad
// tree must produce, since JSON has no comments.
var builtinCases = []struct {
	name string
	rule string
	json []string
}{
	{name: "credential_config", rule: policy.RuleCredentialConfig, json: []string{
		projectDir + "/creds.tf.json:4 " + policy.RuleCredentialConfig,
		projectDir + "/creds.tf.json:13 " + policy.RuleCredentialConfig,
	}},
	{name: "credential_data_source", rule: policy.RuleCredentialDataSource, json: []string{
		projectDir + "/tokens.tf.json:4 " + policy.RuleCredentialDataSource,
		projectDir + "/tokens.tf.json:11 " + policy.RuleCredentialDataSource,
		projectDir + "/tokens.tf.json:18 " + policy.RuleCredentialDataSource,
	}},
	{name: "provisioner", rule: policy.RuleProvisioner, json: []string{
		projectDir + "/run.tf.json:6 " + policy.RuleProvisioner,
		projectDir + "/run.tf.json:7 " + policy.RuleProvisioner,
		projectDir + "/run.tf.json:15 " + policy.RuleProvisioner,
	}},
	{name: "state_backend", rule: policy.RuleStateBackend, json: []string{
		projectDir + "/cloud.tf.json:3 " + policy.RuleStateBackend,
	}},
	{name: "state_encryption", rule: policy.RuleStateEncryption, json: []string{
		projectDir + "/enc.tf.json:8 " + policy.RuleStateEncryption,
	}},
}

// lintCase lints the bad or good tree of a case.
func lintCase(t *testing.T, e *policy.Engine, name, kind string) []policy.Finding {
	t.Helper()
	dir := filepath.Join("testdata", "cases", name, kind)
	got, err := e.LintProject(context.Background(), abs(t, dir), projectDir, localModules(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestBuiltinDenials(t *testing.T) {
	e := newEngine(t)
	for _, tc := range builtinCases {
		t.Run(tc.name, func(t *testing.T) {
			want := append(markers(t, filepath.Join("testdata", "cases", tc.name, "bad")), tc.json...)
			slices.Sort(want)
			got := lintCase(t, e, tc.name, "bad")
			if d := located(got, tc.rule); !slices.Equal(d, want) {
				t.Errorf("findings for %s:\n got %q\nwant %q\nall: %+v", tc.rule, d, want, got)
			}
			for _, f := range got {
				if f.Rule == tc.rule && (f.Severity != policy.SeverityDeny || f.Title == "" || f.Message == "") {
					t.Errorf("finding without deny, title or message: %+v", f)
				}
			}
			if good := lintCase(t, e, tc.name, "good"); len(good) != 0 {
				t.Errorf("good fixture has findings: %+v", good)
			}
		})
	}
}
