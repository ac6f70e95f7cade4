package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const rsaBody = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\nLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo"

func TestString(t *testing.T) {
	pemKey := "-----BEGIN RSA PRIVATE KEY-----\n" + rsaBody + "\n-----END RSA PRIVATE KEY-----"
	tests := []struct {
		name, in, want string
	}{
		{"pem block", "key:\n" + pemKey + "\ndone", "key:\n" + Placeholder + "\ndone"},
		{"pem in a heredoc of a plan", "      + input = <<-EOT\n            -----BEGIN PRIVATE KEY-----\n            " + strings.ReplaceAll(rsaBody, "\n", "\n            ") + "\n            -----END PRIVATE KEY-----\n        EOT\n    }",
			"      + input = <<-EOT\n            " + Placeholder + "\n        EOT\n    }"},
		{"pem with JSON escapes", `"private_key": "-----BEGIN PRIVATE KEY-----\n` + strings.ReplaceAll(rsaBody, "\n", `\n`) + `\n-----END PRIVATE KEY-----\n",`,
			`"private_key": "` + Placeholder + `\n",`},
		{"openssh and encrypted keys", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY----- and -----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0w\n-----END ENCRYPTED PRIVATE KEY-----",
			Placeholder + " and " + Placeholder},
		{"pem cut off by truncation", "x = \"-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\"\n}", "x = \"" + Placeholder + "\"\n}"},
		{"certificates and public keys stay", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----", ""},
		{"google access token", `Authorization: Bearer ya29.a0AfH6SMBx-3kZ_q9LwQ7.abcdefghijklmnop rest`, "Authorization: Bearer " + Placeholder + " rest"},
		{"ya29 too short to be a token", "ya29.short", ""},
		{"github tokens", "ghp_" + strings.Repeat("A1b2", 9) + " gho_" + strings.Repeat("z", 36) + " ghu_" + strings.Repeat("0", 36) + " ghs_" + strings.Repeat("Q", 36) + " ghr_" + strings.Repeat("r", 36),
			strings.TrimSpace(strings.Repeat(Placeholder+" ", 5))},
		{"fine-grained github token", "token=github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijk;", "token=" + Placeholder + ";"},
		{"github-like words stay", "ghs_short and ghost_writer", ""},
		{"aws access key id", `access_key = "AKIAIOSFODNN7EXAMPLE", session ASIAY34FZKBOKMUTVV7A.`, `access_key = "` + Placeholder + `", session ` + Placeholder + "."},
		{"aws-like longer word stays", "AKIAIOSFODNN7EXAMPLEXYZ", ""},
		{"aws secret access key by name", `aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY` + "\n" + `"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"`,
			"aws_secret_access_key = " + Placeholder + "\n" + `"SecretAccessKey": "` + Placeholder + `"`},
		{"service-account key id", `"private_key_id": "3f1e0c9d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e",`, `"private_key_id": "` + Placeholder + `",`},
		{"terraform's rendering of a key id", `          + private_key_id = "3f1e0c9d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e"`, `          + private_key_id = "` + Placeholder + `"`},
		{"sensitive markers and other attributes stay", "+ private_key = (sensitive value)\n+ private_key_type = \"TYPE_GOOGLE_CREDENTIALS_FILE\"", ""},
		{"ordinary plan text stays", "# terraform_data.topic will be created\n+ input = \"alpha-topic\"\nPlan: 1 to add, 0 to change, 0 to destroy.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == "" {
				want = tt.in
			}
			if got := String(tt.in); got != want {
				t.Errorf("String(%q)\n got %q\nwant %q", tt.in, got, want)
			}
		})
	}
}

// Masking never lengthens text: a body within GitHub's limit stays within it.
func TestPlaceholderNoLongerThanAnyMatch(t *testing.T) {
	shortest := []string{"ya29." + strings.Repeat("a", minToken), "ghs_" + strings.Repeat("a", minToken), "AKIA" + strings.Repeat("A", 16), "-----BEGIN PRIVATE KEY-----"}
	for _, s := range shortest {
		if got := String(s); got != Placeholder || len(got) > len(s) {
			t.Errorf("String(%q) = %q; want the placeholder, no longer than the input", s, got)
		}
	}
}

// Hostile input costs time linear in its size: many unterminated PEM
// headers, token prefixes and key names one after another.
func TestLinearOnHostileInput(t *testing.T) {
	for _, unit := range []string{"-----BEGIN RSA PRIVATE KEY", "-----BEGIN X", "ghs_abc ", "ya29.x ", "private_key_id: short ", "AKIAAKIAAKIA", "secret_access_key=" + strings.Repeat(" ", 30)} {
		small, big := strings.Repeat(unit, 1<<12), strings.Repeat(unit, 1<<16)
		ts, tb := timeIt(func() { String(small) }), timeIt(func() { String(big) })
		// 16x the input; allow 64x the time for noise, far below quadratic (256x).
		if tb > 64*ts+50*time.Millisecond {
			t.Errorf("%q: %v for %d bytes but %v for %d bytes: not linear", unit, ts, len(small), tb, len(big))
		}
	}
}

// timeIt is the fastest of five runs of f: on a loaded machine a single
// run can be preempted for longer than the whole work takes, while the
// fastest run tracks the work itself.
func timeIt(f func()) time.Duration {
	best := time.Duration(1<<63 - 1)
	for range 5 {
		start := time.Now()
		f()
		best = min(best, time.Since(start))
	}
	return best
}

func TestHandlerMasksMessagesAndAttributes(t *testing.T) {
	var buf bytes.Buffer
	tok := "ya29." + strings.Repeat("t", 40)
	log := Logger(slog.New(slog.NewJSONHandler(&buf, nil)))
	log = log.With("preset", "ghs_"+strings.Repeat("p", 36)).WithGroup("job")
	log.Info("token "+tok, "err", errors.New("terraform plan: exit 1: "+tok), "out", tok,
		slog.Group("inner", "key", "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----"), "count", 3, "list", []string{"a", tok})
	out := buf.String()
	for _, leak := range []string{"ya29.", "ghs_", "BEGIN PRIVATE KEY"} {
		if strings.Contains(out, leak) {
			t.Errorf("log line holds %q:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, `"count":3`) || !strings.Contains(out, Placeholder) {
		t.Errorf("log line lost its other attributes or the placeholder:\n%s", out)
	}
	if Logger(log) != log {
		t.Error("wrapping a masking logger again should return it unchanged")
	}
}
