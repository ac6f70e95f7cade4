package config

import (
	"strings"
	"testing"
)

func TestPublicURLMustBeAnAbsoluteURLSafeInALink(t *testing.T) {
	load := func(v string) (*Config, error) {
		c, _, err := Load("tfpr server", nil, func(k string) string {
			if k == "TFPR_PUBLIC_URL" {
				return v
			}
			return ""
		})
		return c, err
	}
	c, err := load("https://tfpr.acme.example/")
	if err != nil || c.PublicURL != "https://tfpr.acme.example" {
		t.Fatalf("good URL: %+v, %v", c, err)
	}
	for _, bad := range []string{"tfpr.acme.example", "ftp://x", "https://x/a)b", "https://x/?q=1", "https://x/a b", "javascript:alert(1)"} {
		if _, err := load(bad); err == nil || !strings.Contains(err.Error(), "TFPR_PUBLIC_URL") {
			t.Errorf("TFPR_PUBLIC_URL=%q: err = %v, want a refusal naming the setting", bad, err)
		}
	}
}
