package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tfpr/tfpr/internal/suggest"
)

// printUsage lists every flag with its value name, environment twin and
// default, in the order of Config.
func printUsage(fs *flag.FlagSet, name string) {
	w := fs.Output()
	fmt.Fprintf(w, "usage: %s [--check] [flags]\n\nEvery flag has a TFPR_* environment twin; a flag wins over its twin.\n"+
		"--check validates the whole configuration, GitHub App authentication and terraform included, and exits.\n\n", name)
	for _, f := range (&Config{}).fields() {
		fmt.Fprintf(w, "  -%s %s\n    \t%s (env %s, default %q)\n", f.name, argNames[f.name], f.usage, f.env, f.def)
	}
}

// KnownEnv reports whether name is a TFPR_* variable tfpr reads.
func KnownEnv(name string) bool {
	return slices.Contains(envNames(), name)
}

func envNames() []string {
	var out []string
	for _, f := range (&Config{}).fields() {
		out = append(out, f.env)
	}
	return out
}

// UnknownEnv lists the TFPR_* variables of environ (KEY=VALUE entries) that
// tfpr does not read, each with the setting it most likely means: a typo
// such as TFPR_STATE_BUCKT otherwise leaves the setting at its default
// without a word.
func UnknownEnv(environ []string) []error {
	known := envNames()
	var errs []error
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "TFPR_") || slices.Contains(known, k) {
			continue
		}
		msg := fmt.Sprintf("%s is not a tfpr setting", k)
		if s := suggest.Closest(k, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		errs = append(errs, errors.New(msg+"; tfpr server -h lists them"))
	}
	return errs
}

// bucketRE is Cloud Storage's bucket naming rule, dots aside: lower-case
// letters, digits, dashes and underscores, starting and ending with a
// letter or digit.
var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*[a-z0-9]$`)

// checkBucket says what is wrong with a bucket name.
func checkBucket(env, name string) error {
	if name == "" {
		return nil
	}
	if rest, ok := strings.CutPrefix(name, "gs://"); ok {
		return fmt.Errorf("%s %q: give the bucket name without gs:// (%q)", env, name, strings.TrimSuffix(rest, "/"))
	}
	if strings.Contains(name, "/") {
		return fmt.Errorf("%s %q: a bucket name has no /; the state prefix is TFPR_STATE_PREFIX_TEMPLATE", env, name)
	}
	n := len(name)
	if n < 3 || n > 222 || (!strings.Contains(name, ".") && n > 63) || !bucketRE.MatchString(name) || strings.Contains(name, "..") ||
		strings.HasPrefix(name, "goog") || net.ParseIP(name) != nil {
		return fmt.Errorf("%s %q is not a Cloud Storage bucket name: 3-63 characters of lower-case letters, digits, - and _, "+
			"starting and ending with a letter or digit", env, name)
	}
	return nil
}

// checkAddr says what is wrong with a listen address.
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		if _, err := strconv.Atoi(addr); err == nil {
			return fmt.Errorf("TFPR_ADDR %q is a port without a colon: use %q", addr, ":"+addr)
		}
		return fmt.Errorf("TFPR_ADDR %q is not HOST:PORT (e.g. :8080 or 127.0.0.1:8080)", addr)
	}
	if n, err := strconv.Atoi(port); err == nil && (n < 0 || n > 65535) {
		return fmt.Errorf("TFPR_ADDR %q: port %d is not from 0 to 65535", addr, n)
	}
	return nil
}

// checkAPIURL says what is wrong with the GitHub REST base URL.
func checkAPIURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("TFPR_GITHUB_API_URL %q is not an http(s) URL; use https://api.github.com/ or https://HOST/api/v3/ for GitHub Enterprise Server", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("TFPR_GITHUB_API_URL %q: the REST base URL has no query or fragment", raw)
	}
	if u.Host != "api.github.com" && u.Host != "github.com" && !strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v3") &&
		u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" {
		return fmt.Errorf("TFPR_GITHUB_API_URL %q: GitHub Enterprise Server's REST base ends in /api/v3/ (https://%s/api/v3/)", raw, u.Host)
	}
	if u.Host == "github.com" {
		return fmt.Errorf("TFPR_GITHUB_API_URL %q is the web address; the REST base is https://api.github.com/", raw)
	}
	return nil
}

// ParseLogLevel reads a log level: debug, info, warn or error.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("TFPR_LOG_LEVEL %q: want debug, info, warn or error", s)
}

// teamRE is org/slug as GitHub spells them.
var teamRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?/[A-Za-z0-9_.-]+$`)

func checkTeams(teams []string) []error {
	var errs []error
	for _, t := range teams {
		if !teamRE.MatchString(t) {
			errs = append(errs, fmt.Errorf("TFPR_APPROVER_TEAMS entry %q is not org/slug (e.g. acme/platform-admins)", t))
		}
	}
	return errs
}

// checkSettings validates the values that have a syntax of their own.
func (c *Config) checkSettings() []error {
	var errs []error
	if err := checkAddr(c.Addr); err != nil {
		errs = append(errs, err)
	}
	for _, b := range []struct{ env, v string }{{"TFPR_STATE_BUCKET", c.StateBucket}, {"TFPR_PLAN_BUCKET", c.PlanBucket}} {
		if err := checkBucket(b.env, b.v); err != nil {
			errs = append(errs, err)
		}
	}
	if err := checkAPIURL(c.APIURL); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkTeams(c.ApproverTeams)...)
	errs = append(errs, c.checkKubernetes()...)
	for _, t := range []struct{ env, v string }{{"TFPR_IMPERSONATE_TEMPLATE", c.ImpersonateTemplate}, {"TFPR_PLAN_IMPERSONATE_TEMPLATE", c.PlanImpersonate}} {
		if strings.Contains(t.v, "{platform_project}") && c.PlatformProject == "" {
			errs = append(errs, fmt.Errorf("%s %q uses {platform_project}, but TFPR_PLATFORM_PROJECT is empty", t.env, t.v))
		}
	}
	return errs
}
