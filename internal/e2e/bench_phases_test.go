package e2e

import (
	"bufio"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/metrics"
)

// phaseTotals is each phase's time and count so far, from the server's
// tfpr_run_phase_seconds.
type phaseTotals map[metrics.Phase]struct {
	seconds float64
	count   float64
}

var phaseSeries = regexp.MustCompile(`^tfpr_run_phase_seconds_(sum|count)\{phase="(\w+)"\} (\S+)$`)

func (e *benchEnv) phaseTotals() phaseTotals {
	e.tb.Helper()
	resp, err := http.Get(strings.TrimSuffix(e.url, "/webhook") + "/metrics")
	if err != nil {
		e.tb.Fatal(err)
	}
	defer resp.Body.Close()
	names := map[string]metrics.Phase{}
	for _, p := range metrics.Phases {
		names[p.String()] = p
	}
	out := phaseTotals{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := phaseSeries.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		p, ok := names[m[2]]
		if err != nil || !ok {
			e.tb.Fatalf("unreadable phase series %q", sc.Text())
		}
		t := out[p]
		if m[1] == "sum" {
			t.seconds = v
		} else {
			t.count = v
		}
		out[p] = t
	}
	if err := sc.Err(); err != nil {
		e.tb.Fatal(err)
	}
	return out
}

// reportPhases reports the mean time of each phase between two scrapes,
// as PHASE-ms, per run of that phase.
func reportPhases(b *testing.B, before, after phaseTotals) {
	for _, p := range metrics.Phases {
		n := after[p].count - before[p].count
		if n <= 0 {
			continue
		}
		b.ReportMetric((after[p].seconds-before[p].seconds)/n*1000, "phase-"+p.String()+"-ms")
	}
}
