package metrics

import "testing"

func TestRouteClassIsBoundedWhateverTheNames(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v3/app":                                    "app",
		"/app/installations/7/access_tokens":             "installation_token",
		"/api/v3/app/installations":                      "installations",
		"/installation/repositories":                     "installations",
		"/repos/acme/infra":                              "repository",
		"/repos/acme/pulls/pulls/12":                     "pulls",
		"/repos/acme/issues/issues/12/comments":          "comments",
		"/repos/acme/infra/issues/comments/99":           "comments",
		"/repos/acme/infra/issues":                       "issues",
		"/repos/acme/infra/commits/0123abcd/check-runs":  "checks",
		"/repos/acme/infra/commits/0123abcd/pulls":       "pulls",
		"/repos/acme/infra/check-runs/5/annotations":     "checks",
		"/repos/acme/infra/collaborators/bob/permission": "permissions",
		"/orgs/acme/teams/platform/memberships/bob":      "teams",
		"/repos/acme/infra/some/new/thing":               "other",
		"/users/octocat":                                 "other",
		"/":                                              "other",
	} {
		if got := RouteClass(path); got != want {
			t.Errorf("RouteClass(%q) = %q, want %q", path, got, want)
		}
	}
}
