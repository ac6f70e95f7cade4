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

// routeClasses name the REST resources tfpr uses; the first whose marker
// occurs in the path names the call. Order matters: "check-runs" before
// "commits" (/repos/o/r/commits/SHA/check-runs).
var routeClasses = []struct{ marker, class string }{
	{"/access_tokens", "installation_token"},
	{"/app/installations", "installations"},
	{"/installation/repositories", "installations"},
	{"/check-runs", "checks"},
	{"/check-suites", "checks"},
	{"/statuses/", "statuses"},
	{"/issues/comments", "comments"},
	{"/comments", "comments"},
	{"/pulls", "pulls"},
	{"/issues", "issues"},
	{"/collaborators", "permissions"},
	{"/teams/", "teams"},
	{"/contents/", "contents"},
	{"/commits", "commits"},
	{"/git/", "git"},
}

// RouteClass maps an API path to one of a fixed set of names ("other" for
// the rest), whatever owner, repository or number it holds.
func RouteClass(path string) string {
	// GitHub Enterprise Server prefixes every route with /api/v3.
	path = strings.TrimPrefix(path, "/api/v3")
	for _, rc := range routeClasses {
		if strings.Contains(path, rc.marker) {
			return rc.class
		}
	}
	if strings.HasPrefix(path, "/repos/") && strings.Count(strings.Trim(path, "/"), "/") == 2 {
		return "repository"
	}
	return "other"
}
