package logctx

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestLinesCarryTheContextsAttributes(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil))).With("component", "runner")
	ctx := With(context.Background(), "delivery", "d-1", "repo", "acme/infra", "pr", 7)
	ctx = With(ctx, "project", "microservices/alpha/dev", "run", int64(12), "pr", 8)
	log.InfoContext(ctx, "plan finished", "status", "succeeded", "repo", "acme/infra")
	log.Info("no context, no attributes")

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	var got map[string]any
	if err := json.Unmarshal(lines[0], &got); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"delivery": "d-1", "repo": "acme/infra", "pr": 8.0, "project": "microservices/alpha/dev", "run": 12.0, "component": "runner", "status": "succeeded"} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (line %s)", k, got[k], v, lines[0])
		}
	}
	if bytes.Count(lines[0], []byte(`"pr"`)) != 1 || bytes.Count(lines[0], []byte(`"repo"`)) != 1 {
		t.Errorf("a key given twice appears twice: %s", lines[0])
	}
	if bytes.Contains(lines[1], []byte("delivery")) {
		t.Errorf("a line logged without the context carries its attributes: %s", lines[1])
	}
}

// A key a logger's With wrote is not written again from the context: the
// logger's value wins, as the line's own does.
func TestALoggersOwnKeysWinOverTheContexts(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil))).With("run", 5)
	ctx := With(context.Background(), "run", 12, "delivery", "d-1")
	log.InfoContext(ctx, "worker run finished")
	line := bytes.TrimSpace(buf.Bytes())
	if bytes.Count(line, []byte(`"run"`)) != 1 || !bytes.Contains(line, []byte(`"run":5`)) || !bytes.Contains(line, []byte(`"delivery":"d-1"`)) {
		t.Errorf("want run 5 once and the context's delivery: %s", line)
	}
}
