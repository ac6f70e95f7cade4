package main

import (
	"fmt"
	"runtime/debug"
)

// Stamped by `make build` with -ldflags "-X main.version=... -X
// main.commit=... -X main.date=...". A plain `go build` or `go install`
// leaves them empty and the Go toolchain's own record of the build
// (module version, VCS revision and time) fills them in.
var (
	version = ""
	commit  = ""
	date    = ""
)

// buildInfo is what `tfpr version` prints.
type buildInfo struct {
	Version, Commit, Date string
	Modified              bool
}

// currentBuild merges the stamped values over debug.ReadBuildInfo's.
func currentBuild(read func() (*debug.BuildInfo, bool)) buildInfo {
	b := buildInfo{Version: version, Commit: commit, Date: date}
	if bi, ok := read(); ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				b.Modified = s.Value == "true" && commit == ""
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

func (b buildInfo) String() string {
	c := b.Commit
	if c == "" {
		c = "unknown"
	} else if b.Modified {
		c += " (modified)"
	}
	d := b.Date
	if d == "" {
		d = "unknown"
	}
	return fmt.Sprintf("tfpr %s\ncommit: %s\nbuilt:  %s\n", b.Version, c, d)
}
