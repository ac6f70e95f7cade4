package config

import (
	"strings"
	"testing"
)

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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"TFPR_IMPERSONATE_TEMPLATE": "tf-{service}-{env}@p.iam.gserviceaccount.com"}
			for k, v := range tc.env {
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
