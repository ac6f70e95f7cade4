package workspace

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// A fetch of commit ids is one request of git's protocol v2: a fetch
// command naming the wanted ids and the mirror's own tips, answered with a
// pack. git's own client spends two more processes (git-remote-http and its
// dashed twin, whose libcurl start alone takes tens of milliseconds) and one
// more round trip (the capability advertisement) before asking the same
// question. Anything this client does not expect ends it with an error
// and the fetch goes through git instead, so the git client stays the
// authority on what a server may answer.
//
// The pkt-line framing is the few lines of gitprotocol-common(5) below;
// a git library would bring a module graph for them.

// errNotV2 marks an answer that is not a protocol v2 fetch response: the
// server speaks another dialect, and git's own client should ask.
var errNotV2 = errors.New("not a protocol v2 fetch response")

const (
	// pktMax is the largest pkt-line, length prefix included.
	pktMax = 65520
	// maxHaves bounds the tips offered to the server.
	maxHaves = 256
	// stallTimeout abandons a transfer that delivered nothing for this
	// long, as GIT_HTTP_LOW_SPEED_* does for git's client.
	stallTimeout = 60 * time.Second
)

// pktLine frames s as one pkt-line.
func pktLine(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

// fetchRequest is the body of a v2 fetch for want, offering have.
func fetchRequest(want, have []string, sha256 bool) []byte {
	var b strings.Builder
	b.WriteString(pktLine("command=fetch\n"))
	b.WriteString(pktLine("agent=tfpr\n"))
	if sha256 {
		b.WriteString(pktLine("object-format=sha256\n"))
	}
	b.WriteString("0001")
	for _, a := range []string{"thin-pack\n", "no-progress\n", "ofs-delta\n"} {
		b.WriteString(pktLine(a))
	}
	for _, w := range want {
		b.WriteString(pktLine("want " + w + "\n"))
	}
	for _, h := range have {
		b.WriteString(pktLine("have " + h + "\n"))
	}
	b.WriteString(pktLine("done\n"))
	b.WriteString("0000")
	return []byte(b.String())
}

// pktReader reads pkt-lines.
type pktReader struct {
	r   *bufio.Reader
	buf [pktMax]byte
}

// kind of a pkt-line read.
type pktKind int

const (
	pktData pktKind = iota
	pktFlush
	pktDelim
	pktEnd
)

// next returns the next pkt-line; data is valid until the next call.
func (p *pktReader) next() (pktKind, []byte, error) {
	var head [4]byte
	if _, err := io.ReadFull(p.r, head[:]); err != nil {
		return 0, nil, fmt.Errorf("read pkt-line length: %w", err)
	}
	var n [2]byte
	if _, err := hex.Decode(n[:], head[:]); err != nil {
		return 0, nil, fmt.Errorf("%w: pkt-line length %q", errNotV2, head[:])
	}
	size := int(n[0])<<8 | int(n[1])
	switch {
	case size == 0:
		return pktFlush, nil, nil
	case size == 1:
		return pktDelim, nil, nil
	case size == 2:
		return pktEnd, nil, nil
	case size < 4 || size > pktMax:
		return 0, nil, fmt.Errorf("%w: pkt-line length %d", errNotV2, size)
	}
	data := p.buf[:size-4]
	if _, err := io.ReadFull(p.r, data); err != nil {
		return 0, nil, fmt.Errorf("read pkt-line: %w", err)
	}
	return pktData, data, nil
}

// readPack reads a v2 fetch response (sent after "done": optional
// sections, then the packfile section) and copies the pack to w.
func readPack(body io.Reader, w io.Writer) error {
	p := &pktReader{r: bufio.NewReaderSize(body, pktMax)}
	for section := ""; ; {
		kind, data, err := p.next()
		if err != nil {
			return err
		}
		if kind != pktData {
			if section == "" {
				return fmt.Errorf("%w: empty section", errNotV2)
			}
			// A delimiter ends a section before the packfile; the
			// packfile section is the last.
			if kind == pktDelim {
				section = ""
				continue
			}
			return fmt.Errorf("%w: the response ended before the pack", errNotV2)
		}
		line := strings.TrimSuffix(string(data), "\n")
		if section == "" {
			if msg, ok := strings.CutPrefix(line, "ERR "); ok {
				return fmt.Errorf("the server refused the fetch: %s", firstBytes(msg, 200))
			}
			switch line {
			case "acknowledgments", "shallow-info", "wanted-refs", "packfile-uris":
				section = line
				continue
			case "packfile":
				return copyBand(p, w)
			}
			return fmt.Errorf("%w: section %q", errNotV2, firstBytes(line, 40))
		}
		// Lines inside a section before the pack carry nothing a fetch
		// of plain ids needs.
	}
}

// copyBand demultiplexes the packfile section: band 1 is the pack, band 2
// progress (none is asked for), band 3 a fatal error.
func copyBand(p *pktReader, w io.Writer) error {
	for {
		kind, data, err := p.next()
		if err != nil {
			return err
		}
		switch {
		case kind == pktFlush:
			return nil
		case kind != pktData || len(data) == 0:
			return fmt.Errorf("%w: unexpected marker in the pack", errNotV2)
		}
		switch data[0] {
		case 1:
			if _, err := w.Write(data[1:]); err != nil {
				return fmt.Errorf("store the pack: %w", err)
			}
		case 2:
		case 3:
			return fmt.Errorf("the server failed while sending the pack: %s", firstBytes(strings.TrimSpace(string(data[1:])), 200))
		default:
			return fmt.Errorf("%w: side band %d", errNotV2, data[0])
		}
	}
}

func firstBytes(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// postFetch sends one v2 fetch to cloneURL and streams the pack to w.
func postFetch(ctx context.Context, client *http.Client, cloneURL, auth string, req []byte, w io.Writer) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(cloneURL, "/")+"/git-upload-pack", bytes.NewReader(req))
	if err != nil {
		return fmt.Errorf("build the fetch request: %w", err)
	}
	hr.Header.Set("Content-Type", "application/x-git-upload-pack-request")
	hr.Header.Set("Accept", "application/x-git-upload-pack-result")
	hr.Header.Set("Git-Protocol", "version=2")
	hr.Header.Set("User-Agent", "git/tfpr")
	if auth != "" {
		hr.Header.Set("Authorization", auth)
	}
	resp, err := client.Do(hr)
	if err != nil {
		return fmt.Errorf("POST git-upload-pack: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("POST git-upload-pack: %w: status %s", errNotV2, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-git-upload-pack-result" {
		return fmt.Errorf("POST git-upload-pack: %w: content type %q", errNotV2, ct)
	}
	stall := time.AfterFunc(stallTimeout, func() { cancel(fmt.Errorf("no data for %s", stallTimeout)) })
	defer stall.Stop()
	err = readPack(&stallReader{r: resp.Body, t: stall}, w)
	if c := context.Cause(ctx); err != nil && c != nil && c != ctx.Err() {
		err = fmt.Errorf("%w (%w)", err, c)
	}
	return err
}

// stallReader restarts the stall timer on every read that returns data.
type stallReader struct {
	r io.Reader
	t *time.Timer
}

func (s *stallReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if n > 0 {
		s.t.Reset(stallTimeout)
	}
	return n, err
}

// wantedID is a commit id to fetch and the ref to keep it under ("" for a
// bare id).
type wantedID struct{ id, ref string }

// directWants returns the ids of refspecs when every one names a full
// commit id and the URL speaks HTTP: what one v2 request can fetch.
func directWants(cloneURL string, refspecs []string) ([]wantedID, bool) {
	if !strings.HasPrefix(cloneURL, "https://") && !strings.HasPrefix(cloneURL, "http://") {
		return nil, false
	}
	var out []wantedID
	for _, rs := range refspecs {
		src, dst, _ := strings.Cut(strings.TrimPrefix(rs, "+"), ":")
		if !fullSHA.MatchString(src) || (dst != "" && !strings.HasPrefix(dst, "refs/")) {
			return nil, false
		}
		out = append(out, wantedID{id: src, ref: dst})
	}
	return out, len(out) > 0
}

// fetchDirect fetches the first n of wants in one request, offering the
// mirror's branch tips, the wanted refs' current values and the ids of
// refspecs the mirror already holds as common ground; the rest of wants are
// held commits whose refs move with them. The pack goes through index-pack
// (which completes a thin pack), git checks that every wanted commit is
// whole before any ref names it, and the refs move in one transaction.
func (m *Manager) fetchDirect(ctx context.Context, mirror, cloneURL, auth string, secrets, refspecs []string, wants []wantedID, n int) error {
	wanted := map[string]bool{}
	args := []string{"--git-dir=" + mirror, "for-each-ref", fmt.Sprintf("--count=%d", maxHaves), "--format=%(objectname)", "refs/heads/"}
	for _, w := range wants[:n] {
		wanted[w.id] = true
		if w.ref != "" {
			args = append(args, w.ref)
		}
	}
	out, err := m.run(ctx, runOpts{}, args...)
	if err != nil {
		return err
	}
	haves := strings.Fields(string(out))
	for _, rs := range refspecs {
		if src, _, _ := strings.Cut(strings.TrimPrefix(rs, "+"), ":"); fullSHA.MatchString(src) {
			haves = append(haves, src)
		}
	}
	seen := map[string]bool{}
	var have, want []string
	for _, h := range haves {
		if !wanted[h] && !seen[h] && len(have) < maxHaves {
			seen[h] = true
			have = append(have, h)
		}
	}
	for id := range wanted {
		want = append(want, id)
	}
	req := fetchRequest(want, have, len(want[0]) == 64)

	// An OS pipe, not an io.Pipe: index-pack reads it directly, so when
	// it exits nothing waits on a copy, and the request's next write
	// fails at once.
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("fetch %d commits: %w", len(want), err)
	}
	postCtx, stopPost := context.WithCancel(ctx)
	defer stopPost()
	posted := make(chan error, 1)
	go func() {
		// The answer's fate is known before index-pack can see the end of
		// its input, so a failed answer is always the reason given.
		posted <- postFetch(postCtx, m.http, cloneURL, auth, req, pw)
		pw.Close()
	}()
	_, err = m.run(ctx, runOpts{stdinR: pr, secrets: secrets}, "--git-dir="+mirror, "index-pack", "--stdin", "--fix-thin")
	var perr error
	select {
	case perr = <-posted:
		// The answer ended first: a failure of its own is the reason
		// (index-pack only saw the pack end early).
		pr.Close()
		if perr != nil {
			return fmt.Errorf("fetch %d commits: %s", len(want), redact(perr.Error(), secrets))
		}
	default:
		// index-pack ended first. Having refused the pack, it stops the
		// request, which may be waiting on a server gone quiet, and its
		// reason is the one given; having taken it, the answer's end
		// still counts.
		if err != nil {
			stopPost()
		}
		pr.Close()
		perr = <-posted
		if err == nil && perr != nil {
			return fmt.Errorf("fetch %d commits: %s", len(want), redact(perr.Error(), secrets))
		}
	}
	if err != nil {
		return err
	}
	return m.pointRefs(ctx, mirror, wants)
}
