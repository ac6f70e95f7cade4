package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDriftSettings(t *testing.T) {
	load := func(env map[string]string, args ...string) (*Config, error) {
		c, _, err := Load("tfpr server", args, func(k string) string { return env[k] })
		return c, err
	}
	c, err := load(nil)
	if err != nil || c.DriftInterval != 24*time.Hour || c.DriftParallelism != 1 {
		t.Fatalf("defaults: %v %v, %v; want 24h and 1", c.DriftInterval, c.DriftParallelism, err)
	}
	c, err = load(map[string]string{"TFPR_DRIFT_INTERVAL": "0", "TFPR_DRIFT_PARALLELISM": "3"})
	if err != nil || c.DriftInterval != 0 || c.DriftParallelism != 3 {
		t.Fatalf("0 (off) and 3: %v %v, %v", c.DriftInterval, c.DriftParallelism, err)
	}
	if c, err = load(nil, "-drift-interval", "6h"); err != nil || c.DriftInterval != 6*time.Hour {
		t.Fatalf("flag: %v, %v", c.DriftInterval, err)
	}
	for k, v := range map[string]string{"TFPR_DRIFT_INTERVAL": "-1h", "TFPR_DRIFT_PARALLELISM": "0"} {
		if _, err := load(map[string]string{k: v}); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: err = %v, want one naming %s", k, v, err, k)
		}
	}
	if _, err := load(map[string]string{"TFPR_DRIFT_INTERVAL": "daily"}); err == nil || !strings.Contains(err.Error(), `"daily"`) {
		t.Errorf("a bad interval must be quoted in the error: %v", err)
	}
}

func TestDriftChecksLeavePRsATerraformSlot(t *testing.T) {
	c, _, err := Load("tfpr server", []string{"-parallelism", "2", "-drift-parallelism", "2"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if errs := c.checkSettings(); !strings.Contains(fmt.Sprint(errs), "TFPR_DRIFT_PARALLELISM=2 must be below TFPR_PARALLELISM=2") {
		t.Fatalf("settings problems: %v", errs)
	}
	c.DriftInterval = 0
	if errs := c.checkSettings(); strings.Contains(fmt.Sprint(errs), "DRIFT") {
		t.Fatalf("drift checks off, yet: %v", errs)
	}
}
