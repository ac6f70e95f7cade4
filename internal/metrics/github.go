package metrics

import (
	"net/http"
	"strconv"
	"strings"
)

// GitHubTransport counts every GitHub API call through base by route
// class and status class, and keeps the rate-limit gauges at what the
// last response said.
func (m *Metrics) GitHubTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if m == nil {
		return base
	}
	return githubTransport{m: m, base: base}
}

type githubTransport struct {
	m    *Metrics
	base http.RoundTripper
}

func (t githubTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	route := RouteClass(r.URL.Path)
	if err != nil {
		t.m.githubCalls.WithLabelValues(route, "error").Inc()
		return resp, err
	}
	t.m.githubCalls.WithLabelValues(route, strconv.Itoa(resp.StatusCode/100)+"xx").Inc()
	if v, err := strconv.Atoi(resp.Header.Get("X-RateLimit-Remaining")); err == nil {
		t.m.rateRemaining.Set(float64(v))
	}
	if v, err := strconv.Atoi(resp.Header.Get("X-RateLimit-Limit")); err == nil {
		t.m.rateLimit.Set(float64(v))
	}
	return resp, nil
}

// repoRoutes name the repository resources tfpr uses, by the segment
// after /repos/{owner}/{repo}/.
var repoRoutes = map[string]string{
	"pulls": "pulls", "issues": "issues", "check-runs": "checks", "check-suites": "checks",
	"statuses": "statuses", "commits": "commits", "collaborators": "permissions",
	"contents": "contents", "git": "git", "installation": "installations", "compare": "commits",
}

// RouteClass maps an API path to one of a fixed set of names ("other" for
// the rest), whatever owner, repository or number it holds.
func RouteClass(path string) string {
	// GitHub Enterprise Server prefixes every route with /api/v3.
	seg := strings.Split(strings.Trim(strings.TrimPrefix(path, "/api/v3"), "/"), "/")
	switch seg[0] {
	case "app":
		if len(seg) >= 4 && seg[3] == "access_tokens" {
			return "installation_token"
		}
		if len(seg) >= 2 && seg[1] == "installations" {
			return "installations"
		}
		return "app"
	case "installation":
		return "installations"
	case "orgs":
		if len(seg) >= 3 && seg[2] == "teams" {
			return "teams"
		}
	case "repos":
		if len(seg) == 3 {
			return "repository"
		}
		if len(seg) < 4 {
			break
		}
		rest := seg[3:]
		// /commits/{sha}/check-runs and /issues/comments/{id} belong to
		// the resource named last.
		if rest[0] == "commits" && len(rest) >= 3 {
			if c, ok := repoRoutes[rest[2]]; ok {
				return c
			}
		}
		if len(rest) >= 2 && rest[1] == "comments" || len(rest) >= 3 && rest[2] == "comments" {
			return "comments"
		}
		if c, ok := repoRoutes[rest[0]]; ok {
			return c
		}
	}
	return "other"
}
