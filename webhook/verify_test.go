package webhook

import (
	"strings"
	"testing"
)

func TestVerify(t *testing.T) {
	secret := []byte("s3cret-for-tests")
	body := fixture(t, "pull_request/opened.payload.json")
	good := sign(secret, body)

	tests := []struct {
		name      string
		secret    []byte
		body      []byte
		signature string
		wantErr   string // "" means valid
	}{
		{name: "good", secret: secret, body: body, signature: good},
		{name: "uppercase hex", secret: secret, body: body, signature: "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256="))},
		{name: "wrong secret", secret: []byte("other"), body: body, signature: good, wantErr: "signature mismatch"},
		{name: "body changed", secret: secret, body: append([]byte(" "), body...), signature: good, wantErr: "signature mismatch"},
		{name: "missing prefix", secret: secret, body: body, signature: strings.TrimPrefix(good, "sha256="), wantErr: `does not start with "sha256="`},
		{name: "sha1 prefix", secret: secret, body: body, signature: "sha1=" + strings.TrimPrefix(good, "sha256="), wantErr: `does not start with "sha256="`},
		{name: "bad hex", secret: secret, body: body, signature: "sha256=" + strings.Repeat("zz", 32), wantErr: "not hex"},
		{name: "empty", secret: secret, body: body, signature: "", wantErr: "X-Hub-Signature-256 is missing"},
		{name: "prefix only", secret: secret, body: body, signature: "sha256=", wantErr: "has 0 hex digits, want 64"},
		{name: "truncated", secret: secret, body: body, signature: good[:len(good)-2], wantErr: "has 62 hex digits, want 64"},
		{name: "empty secret", secret: nil, body: body, signature: sign(nil, body), wantErr: "secret is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.body, tt.signature)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Verify() = %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Verify() = nil, want error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Verify() = %q, want it to contain %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), string(tt.secret)) && len(tt.secret) > 0 {
				t.Fatalf("Verify() error %q reveals the secret", err)
			}
		})
	}
}
