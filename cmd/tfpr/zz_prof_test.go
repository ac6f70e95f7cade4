package main

import (
	"context"
	"io"
	"os"
	"testing"
)

func TestZZProfLint(t *testing.T) {
	dir := os.Getenv("ZZ_CORPUS")
	if dir == "" {
		t.Skip()
	}
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	os.Chdir(dir)
	code := runLint(context.Background(), []string{"."}, io.Discard, io.Discard)
	if code != 0 {
		t.Fatal(code)
	}
}
