package runner

import (
	"fmt"
	"strings"
	"testing"
)

// planJSON builds a `terraform show -json` document from resource change
// bodies keyed by address and output change bodies keyed by name.
func planJSONDoc(resources map[string]string, outputs map[string]string) []byte {
	var rc, oc []string
	for a, c := range resources {
		rc = append(rc, fmt.Sprintf(`{"address":%q,"change":%s}`, a, c))
	}
	for n, c := range outputs {
		oc = append(oc, fmt.Sprintf(`%q:%s`, n, c))
	}
	return []byte(`{"format_version":"1.2","timestamp":"2026-01-01T00:00:00Z","resource_changes":[` + strings.Join(rc, ",") +
		`],"output_changes":{` + strings.Join(oc, ",") + `}}`)
}

func mustContent(t *testing.T, js []byte) planContent {
	t.Helper()
	pc, err := readPlanContent(js)
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

func TestComparePlans(t *testing.T) {
	const create = `{"actions":["create"],"before":null,"after":{"input":"v2","tags":{"env":"dev"}},"after_unknown":{"id":true,"output":true},"before_sensitive":false,"after_sensitive":{}}`
	tests := []struct {
		name              string
		reviewed, applied []byte
		want              []string // describe() of each difference, in order
	}{
		{
			name:     "same plan made at another time",
			reviewed: planJSONDoc(map[string]string{"terraform_data.q": create}, nil),
			applied:  planJSONDoc(map[string]string{"terraform_data.q": create}, nil),
		},
		{
			name:     "one attribute value changed, same action",
			reviewed: planJSONDoc(map[string]string{"terraform_data.q": create}, nil),
			applied:  planJSONDoc(map[string]string{"terraform_data.q": strings.Replace(create, `"v2"`, `"v3"`, 1)}, nil),
			want:     []string{"` terraform_data.q ` ` input `: ` \"v2\" ` → ` \"v3\" `"},
		},
		{
			name:     "nested attribute added",
			reviewed: planJSONDoc(map[string]string{"terraform_data.q": create}, nil),
			applied:  planJSONDoc(map[string]string{"terraform_data.q": strings.Replace(create, `{"env":"dev"}`, `{"env":"dev","team":"x"}`, 1)}, nil),
			want:     []string{"` terraform_data.q ` ` tags.team `: ` absent ` → ` \"x\" `"},
		},
		{
			name:     "value becomes known only at apply",
			reviewed: planJSONDoc(map[string]string{"terraform_data.q": create}, nil),
			applied: planJSONDoc(map[string]string{"terraform_data.q": `{"actions":["create"],"before":null,"after":{"tags":{"env":"dev"}},
				"after_unknown":{"id":true,"output":true,"input":true},"before_sensitive":false,"after_sensitive":{}}`}, nil),
			want: []string{"` terraform_data.q ` ` input `: ` \"v2\" ` → ` (known after apply) `"},
		},
		{
			name: "sensitive value changed is named, never shown",
			reviewed: planJSONDoc(map[string]string{"terraform_data.s": `{"actions":["update"],"before":{"input":"old-secret"},"after":{"input":"new-secret-1"},
				"before_sensitive":{"input":true},"after_sensitive":{"input":true}}`}, nil),
			applied: planJSONDoc(map[string]string{"terraform_data.s": `{"actions":["update"],"before":{"input":"old-secret"},"after":{"input":"new-secret-2"},
				"before_sensitive":{"input":true},"after_sensitive":{"input":true}}`}, nil),
			want: []string{"` terraform_data.s ` ` input `: ` (sensitive) ` → ` (sensitive, changed) `"},
		},
		{
			name: "state drifted: the current value differs",
			reviewed: planJSONDoc(map[string]string{"terraform_data.q": `{"actions":["update"],"before":{"input":"a"},"after":{"input":"b"},
				"before_sensitive":{},"after_sensitive":{}}`}, nil),
			applied: planJSONDoc(map[string]string{"terraform_data.q": `{"actions":["update"],"before":{"input":"z"},"after":{"input":"b"},
				"before_sensitive":{},"after_sensitive":{}}`}, nil),
			want: []string{"` terraform_data.q ` ` input (current value) `: ` \"a\" ` → ` \"z\" `"},
		},
		{
			name:     "a resource only in the applied plan, one only in the reviewed",
			reviewed: planJSONDoc(map[string]string{"terraform_data.a": create}, nil),
			applied:  planJSONDoc(map[string]string{"terraform_data.b": create}, nil),
			want: []string{
				"` terraform_data.a `: ` create ` → ` no change `",
				"` terraform_data.b `: ` no change ` → ` create `",
			},
		},
		{
			name:     "update became a replacement",
			reviewed: planJSONDoc(map[string]string{"terraform_data.q": `{"actions":["update"],"before":{"input":"a"},"after":{"input":"b"}}`}, nil),
			applied:  planJSONDoc(map[string]string{"terraform_data.q": `{"actions":["delete","create"],"before":{"input":"a"},"after":{"input":"b"}}`}, nil),
			want:     []string{"` terraform_data.q ` ` (actions) `: ` update ` → ` delete,create `"},
		},
		{
			name:     "output value changed",
			reviewed: planJSONDoc(nil, map[string]string{"url": `{"actions":["create"],"before":null,"after":"https://a","after_unknown":false}`}),
			applied:  planJSONDoc(nil, map[string]string{"url": `{"actions":["create"],"before":null,"after":"https://b","after_unknown":false}`}),
			want:     []string{"` output.url ` ` (whole value) `: ` \"https://a\" ` → ` \"https://b\" `"},
		},
		{
			name:     "no-op changes are not differences",
			reviewed: planJSONDoc(map[string]string{"terraform_data.q": `{"actions":["no-op"],"before":{"input":"a"},"after":{"input":"a"}}`}, nil),
			applied:  planJSONDoc(nil, nil),
		},
		{
			name:     "list element changed; a backtick in a value cannot close the span",
			reviewed: planJSONDoc(map[string]string{"terraform_data.l": `{"actions":["create"],"before":null,"after":{"input":["a","b"]}}`}, nil),
			applied:  planJSONDoc(map[string]string{"terraform_data.l": "{\"actions\":[\"create\"],\"before\":null,\"after\":{\"input\":[\"a\",\"x`y\"]}}"}, nil),
			want:     []string{"` terraform_data.l ` ` input[1] `: ` \"b\" ` → `` \"x`y\" ``"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, a := mustContent(t, tt.reviewed), mustContent(t, tt.applied)
			var got []string
			for _, d := range comparePlans(r, a) {
				got = append(got, d.describe())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("differences:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if same := r.digest() == a.digest(); same != (len(tt.want) == 0) {
				t.Errorf("digests equal = %v, want %v", same, len(tt.want) == 0)
			}
			for _, g := range got {
				if strings.Contains(g, "secret") {
					t.Errorf("a sensitive value is shown: %s", g)
				}
			}
		})
	}
}

func TestReadPlanContentRefusesHostileInput(t *testing.T) {
	if _, err := readPlanContent([]byte(`{"resource_changes":`)); err == nil {
		t.Error("truncated JSON was accepted")
	}
	deep := strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100)
	_, err := readPlanContent(planJSONDoc(map[string]string{"x.y": `{"actions":["create"],"after":` + deep + `}`}, nil))
	if err == nil || !strings.Contains(err.Error(), "x.y after") || !strings.Contains(err.Error(), "deeper than") {
		t.Errorf("deeply nested value: err = %v, want a depth error naming x.y", err)
	}
}
