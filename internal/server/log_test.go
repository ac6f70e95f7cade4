package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// The logger the server hands every component masks credentials, whatever
// handler the operator's logger writes with.
func TestServerLogMasksCredentials(t *testing.T) {
	var buf bytes.Buffer
	s, err := New(context.Background(), load(t, baseEnv(t)), Options{Log: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	token := "ya29.a0AfH6SMBx3kZq9LwQ7abcdefghijklmnop"
	s.log.With("component", "runner").Error("plan failed", "err", errors.New("terraform plan: Authorization: Bearer "+token))
	if out := buf.String(); strings.Contains(out, token) || !strings.Contains(out, "plan failed") {
		t.Errorf("server log holds the token or lost the record:\n%s", out)
	}
}
