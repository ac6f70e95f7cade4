package deploy

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/webhook"
)

// capture is a Registerer that keeps the metric names registered on it.
type capture struct{ names map[string]bool }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (c *capture) Register(col prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	go func() { col.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			c.names[m[1]] = true
		}
	}
	return nil
}
func (c *capture) MustRegister(cs ...prometheus.Collector) {
	for _, col := range cs {
		_ = c.Register(col)
	}
}
func (c *capture) Unregister(prometheus.Collector) bool { return true }

type nopDeps struct{}

func (nopDeps) FirstDelivery(context.Context, string) (bool, error) { return true, nil }
func (nopDeps) ForgetDelivery(context.Context, string) error        { return nil }
func (nopDeps) Dispatch(context.Context, webhook.Event) error       { return nil }

// tfprMetricNames are the series tfpr exports, histogram parts included.
func tfprMetricNames(t *testing.T) map[string]bool {
	c := &capture{names: map[string]bool{}}
	if _, err := metrics.New(c); err != nil {
		t.Fatal(err)
	}
	if _, err := webhook.New(webhook.Options{Secret: []byte("s"), Dedupe: nopDeps{}, Dispatch: nopDeps{}, Metrics: c}); err != nil {
		t.Fatal(err)
	}
	for n := range c.names {
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			c.names[n+s] = true
		}
	}
	return c.names
}

var seriesName = regexp.MustCompile(`\btfpr_[a-z_]+\b`)

// Every tfpr_* series the alerts and the dashboard query is one tfpr
// exports, so a renamed metric cannot leave an alert silently empty.
func TestAlertsAndDashboardUseExportedMetrics(t *testing.T) {
	have := tfprMetricNames(t)
	for _, f := range []string{"prometheus/alerts.yaml", "grafana/tfpr.json"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		used := 0
		for i, line := range strings.Split(string(raw), "\n") {
			if strings.Contains(line, "summary:") || strings.Contains(line, "description") {
				continue // prose may name a metric family loosely
			}
			for _, name := range seriesName.FindAllString(line, -1) {
				used++
				if !have[name] {
					t.Errorf("%s:%d: queries %s, which tfpr does not export", f, i+1, name)
				}
			}
		}
		if used == 0 {
			t.Errorf("%s queries no tfpr series", f)
		}
	}
}
