package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func band(n byte, data string) string { return pktLine(string(n) + data) }

// readPack takes the pack out of a v2 fetch response and refuses anything
// else with an error that names it; what is not a v2 answer is marked so
// the fetch goes through git.
func TestReadPack(t *testing.T) {
	for name, c := range map[string]struct {
		resp  string
		pack  string
		err   string
		notV2 bool
	}{
		"pack":                 {resp: pktLine("packfile\n") + band(1, "PACK") + band(2, "progress\n") + band(1, "data") + "0000", pack: "PACKdata"},
		"sections before pack": {resp: pktLine("shallow-info\n") + pktLine("shallow 1234\n") + "0001" + pktLine("packfile\n") + band(1, "PACK") + "0000", pack: "PACK"},
		"server error":         {resp: pktLine("ERR upload-pack: not our ref 1234\n"), err: "the server refused the fetch: upload-pack: not our ref 1234"},
		"fatal band":           {resp: pktLine("packfile\n") + band(1, "PA") + band(3, "pack-objects died\n"), err: "failed while sending the pack: pack-objects died"},
		"v0 answer":            {resp: pktLine("NAK\n") + "0000", notV2: true, err: `section "NAK"`},
		"not pkt-lines":        {resp: "<html>login</html>", notV2: true, err: "pkt-line length"},
		"oversized length":     {resp: "fff5" + strings.Repeat("x", 10), notV2: true, err: "pkt-line length 65525"},
		"truncated pack":       {resp: pktLine("packfile\n") + band(1, "PACK")[:6], err: "read pkt-line"},
		"no pack":              {resp: pktLine("acknowledgments\n") + pktLine("NAK\n") + "0000", notV2: true, err: "ended before the pack"},
		"empty":                {resp: "", err: "read pkt-line length"},
		"unknown band":         {resp: pktLine("packfile\n") + band(7, "x"), notV2: true, err: "side band 7"},
	} {
		t.Run(name, func(t *testing.T) {
			var got bytes.Buffer
			err := readPack(strings.NewReader(c.resp), &got)
			if c.err == "" {
				if err != nil || got.String() != c.pack {
					t.Fatalf("readPack = %q, %v; want %q", got.String(), err, c.pack)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("readPack error %v, want one containing %q", err, c.err)
			}
			if errors.Is(err, errNotV2) != c.notV2 {
				t.Errorf("readPack error %v: marked as not v2 = %v, want %v", err, errors.Is(err, errNotV2), c.notV2)
			}
		})
	}
}

func TestFetchRequest(t *testing.T) {
	got := string(fetchRequest([]string{"aa"}, []string{"bb", "cc"}, false))
	want := "0012command=fetch\n000fagent=tfpr\n0001000ethin-pack\n0010no-progress\n000eofs-delta\n000cwant aa\n" +
		"000chave bb\n000chave cc\n0009done\n0000"
	if got != want {
		t.Fatalf("fetchRequest =\n%q\nwant\n%q", got, want)
	}
}

// A server that does not answer tfpr's one-request fetch still gets
// fetched from, by git's own client, and the token stays off every
// command line.
func TestDirectFetchFallsBackToGit(t *testing.T) {
	const token = "ghs_TestToken0123456789abcdef"
	up := newUpstream(t)
	base := up.commit("base", map[string]string{"main.tf": "# v1\n"})
	head := up.commit("head", map[string]string{"main.tf": "# v2\n"})
	for name, c := range map[string]struct {
		answer func(w http.ResponseWriter, r *http.Request) bool
		logged string // why the one request failed, as logged
	}{
		"status": {func(w http.ResponseWriter, r *http.Request) bool {
			if r.Header.Get("User-Agent") != "git/tfpr" {
				return false
			}
			http.Error(w, "v2 only after the advertisement", http.StatusBadRequest)
			return true
		}, "status 400 Bad Request"},
		"v0 dialect": {func(w http.ResponseWriter, r *http.Request) bool {
			if r.Header.Get("User-Agent") != "git/tfpr" {
				return false
			}
			w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
			fmt.Fprint(w, pktLine("NAK\n")+"0000")
			return true
		}, `section \"NAK\"`},
		"broken pack": {func(w http.ResponseWriter, r *http.Request) bool {
			if r.Header.Get("User-Agent") != "git/tfpr" {
				return false
			}
			w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
			fmt.Fprint(w, pktLine("packfile\n")+band(1, "PACK\x00\x00\x00\x02\x00\x00\x00\x05garbage")+"0000")
			return true
		}, "git index-pack: exit status"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newGitHTTPServer(t, filepath.Dir(up.dir), token)
			srv.answer = c.answer
			repo := Repo{FullName: "acme/infra", CloneURL: srv.URL + "/" + filepath.Base(up.dir)}
			var log bytes.Buffer
			m, err := New(t.TempDir(), slog.New(slog.NewJSONHandler(&log, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Fetch(context.Background(), repo, token, "+"+head+":refs/pull/1/head", "+"+base+":refs/pull/1/base"); err != nil {
				t.Fatalf("fetch: %v", err)
			}
			if !m.Has(context.Background(), repo, head) {
				t.Fatal("the head is not in the mirror")
			}
			asked := strings.Join(srv.served(), "\n")
			if !strings.Contains(asked, "GET ") || strings.Count(asked, "POST ") != 2 {
				t.Errorf("want the refused request, then git's advertisement and fetch; got:\n%s", asked)
			}
			if len(srv.leaks) > 0 {
				t.Fatalf("token visible during fetch:\n%s", strings.Join(srv.leaks, "\n"))
			}
			if !strings.Contains(log.String(), "fetching with git") || !strings.Contains(log.String(), c.logged) {
				t.Errorf("the log does not say the one request failed with %q:\n%s", c.logged, log.String())
			}
			if strings.Contains(log.String(), token) {
				t.Errorf("the log holds the token:\n%s", log.String())
			}
		})
	}
}

// A pack index-pack refuses ends the request at once, even when the
// server then goes quiet: the mirror's lock (and every job of the
// repository) does not wait out the stall timeout, and the log gives
// index-pack's reason.
func TestRefusedPackFromAStalledServerEndsAtOnce(t *testing.T) {
	const token = "ghs_TestToken0123456789abcdef"
	up := newUpstream(t)
	head := up.commit("head", map[string]string{"main.tf": "# v2\n"})
	srv := newGitHTTPServer(t, filepath.Dir(up.dir), token)
	release := make(chan struct{})
	defer close(release)
	srv.answer = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("User-Agent") != "git/tfpr" {
			return false
		}
		w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
		fmt.Fprint(w, pktLine("packfile\n")+band(1, "JUNKJUNKJUNKJUNK"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	}
	repo := Repo{FullName: "acme/infra", CloneURL: srv.URL + "/" + filepath.Base(up.dir)}
	var log bytes.Buffer
	m, err := New(t.TempDir(), slog.New(slog.NewJSONHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Fetch(ctx, repo, token, "+"+head+":refs/pull/1/head"); err != nil {
		t.Fatalf("fetch (git's client after the refused pack): %v", err)
	}
	if !strings.Contains(log.String(), "git index-pack: exit status") {
		t.Errorf("the log does not give index-pack's reason:\n%s", log.String())
	}
}
