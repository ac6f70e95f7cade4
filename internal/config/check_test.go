package config

import (
	"strings"
	"testing"
)

// kube is a valid kubernetes executor setup with over applied.
func kube(over map[string]string) map[string]string {
	env := map[string]string{"TFPR_EXECUTOR": "kubernetes", "TFPR_RUN_NAMESPACE": "tfpr-runs", "TFPR_RUN_IMAGE": "ghcr.io/acme/tfpr:1",
		"TFPR_INTERNAL_ADDR": ":8081", "TFPR_INTERNAL_URL": "http://tfpr-internal.tfpr.svc:8081"}
	for k, v := range over {
		env[k] = v
	}
	return env
}

func TestServerSettingsAreChecked(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string // "" for no error
	}{
		{"valid", map[string]string{"TFPR_ADDR": "127.0.0.1:9000", "TFPR_PLAN_BUCKET": "acme-plans.example.com"}, ""},
		{"port without colon", map[string]string{"TFPR_ADDR": "8080"}, `TFPR_ADDR "8080" is a port without a colon: use ":8080"`},
		{"not an address", map[string]string{"TFPR_ADDR": "localhost"}, `TFPR_ADDR "localhost" is not HOST:PORT`},
		{"port out of range", map[string]string{"TFPR_ADDR": ":70000"}, "port 70000 is not from 0 to 65535"},
		{"bucket URL", map[string]string{"TFPR_STATE_BUCKET": "gs://acme-tfstate/"}, `TFPR_STATE_BUCKET "gs://acme-tfstate/": give the bucket name without gs:// ("acme-tfstate")`},
		{"bucket characters", map[string]string{"TFPR_STATE_BUCKET": "My_Bucket!!"}, `TFPR_STATE_BUCKET "My_Bucket!!" is not a Cloud Storage bucket name`},
		{"bucket too short", map[string]string{"TFPR_PLAN_BUCKET": "x"}, `TFPR_PLAN_BUCKET "x" is not a Cloud Storage bucket name`},
		{"bucket with a path", map[string]string{"TFPR_STATE_BUCKET": "acme/state"}, "a bucket name has no /"},
		{"log level", map[string]string{"TFPR_LOG_LEVEL": "verbose"}, `TFPR_LOG_LEVEL "verbose": want debug, info, warn or error`},
		{"API URL scheme", map[string]string{"TFPR_GITHUB_API_URL": "api.github.com"}, "is not an http(s) URL"},
		{"API URL web address", map[string]string{"TFPR_GITHUB_API_URL": "https://github.com/"}, "the REST base is https://api.github.com/"},
		{"GHES without /api/v3", map[string]string{"TFPR_GITHUB_API_URL": "https://ghe.acme.com/"}, "ends in /api/v3/ (https://ghe.acme.com/api/v3/)"},
		{"team without org", map[string]string{"TFPR_APPROVER_TEAMS": "acme/admins, admins"}, `TFPR_APPROVER_TEAMS entry "admins" is not org/slug`},
		{"placeholder needs its variable", map[string]string{"TFPR_IMPERSONATE_TEMPLATE": "tf-{service}@{platform_project}.iam.gserviceaccount.com"},
			"uses {platform_project}, but TFPR_PLATFORM_PROJECT is empty"},
		{"unknown placeholder", map[string]string{"TFPR_IMPERSONATE_TEMPLATE": "tf-{servce}@p.iam.gserviceaccount.com"}, "unknown placeholder {servce}"},
		{"kubernetes", kube(nil), ""},
		{"kubernetes without impersonation", kube(map[string]string{"TFPR_IMPERSONATE_TEMPLATE": ""}), ""},
		{"kubernetes without namespace", kube(map[string]string{"TFPR_RUN_NAMESPACE": ""}), "TFPR_RUN_NAMESPACE is required with TFPR_EXECUTOR=kubernetes"},
		{"kubernetes without image", kube(map[string]string{"TFPR_RUN_IMAGE": ""}), "TFPR_RUN_IMAGE is required"},
		{"kubernetes without internal URL", kube(map[string]string{"TFPR_INTERNAL_URL": ""}), "TFPR_INTERNAL_URL is required with TFPR_EXECUTOR=kubernetes"},
		{"kubernetes with loopback URL", kube(map[string]string{"TFPR_INTERNAL_URL": "http://127.0.0.1:8081"}), "is a loopback address, which run pods cannot reach"},
		{"kubernetes with loopback listener", kube(map[string]string{"TFPR_INTERNAL_ADDR": "127.0.0.1:8081"}), "listens on loopback only"},
		{"kubernetes service account template", kube(map[string]string{"TFPR_RUN_SERVICE_ACCOUNT_TEMPLATE": "TF_{service}"}),
			`TFPR_RUN_SERVICE_ACCOUNT_TEMPLATE: service account "TF_svc"`},
		{"kubernetes pod template missing", kube(map[string]string{"TFPR_RUN_POD_TEMPLATE_FILE": "/nonexistent/pod.yaml"}),
			"TFPR_RUN_POD_TEMPLATE_FILE: run pod template: open /nonexistent/pod.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"TFPR_IMPERSONATE_TEMPLATE": "tf-{service}-{env}@p.iam.gserviceaccount.com"}
			for k, v := range tc.env {
				if v == "" {
					delete(env, k)
					continue
				}
				env[k] = v
			}
			err := validate(t, env)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v\nwant one containing %q", err, tc.want)
			}
		})
	}
}

func TestUnknownEnvironmentVariables(t *testing.T) {
	got := UnknownEnv([]string{"TFPR_STATE_BUCKT=acme", "TFPR_STATE_BUCKET=acme", "HOME=/root", "TFPR_NONSENSE_SETTING=1", "TFPR_LOG_LEVEL=info"})
	if len(got) != 2 {
		t.Fatalf("got %v, want the typo and the unknown name", got)
	}
	if !strings.Contains(got[0].Error(), "TFPR_STATE_BUCKT is not a tfpr setting (did you mean TFPR_STATE_BUCKET?)") {
		t.Errorf("typo: %v", got[0])
	}
	if !strings.Contains(got[1].Error(), "TFPR_NONSENSE_SETTING is not a tfpr setting;") {
		t.Errorf("unknown: %v", got[1])
	}
}

func TestHelpShowsArgumentNames(t *testing.T) {
	var b strings.Builder
	_, fs, _ := Load("tfpr server", nil, func(string) string { return "" })
	fs.SetOutput(&b)
	fs.Usage()
	for _, want := range []string{"-addr HOST:PORT", "-state-bucket BUCKET", "-lint-timeout DURATION", "-approver-teams ORG/SLUG,...", "(env TFPR_STATE_BUCKET"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if strings.Contains(b.String(), " value\n") {
		t.Errorf("help shows a bare \"value\":\n%s", b.String())
	}
	for _, f := range (&Config{}).fields() {
		if argNames[f.name] == "" {
			t.Errorf("flag -%s has no argument name", f.name)
		}
	}
}
