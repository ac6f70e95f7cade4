package webhook

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// badSignature is well formed, so the body must be read to refute it.
var badSignature = "sha256=" + strings.Repeat("0", 64)

// firstReadBody tells when the handler has received part of a body.
type firstReadBody struct {
	io.ReadCloser
	once sync.Once
	read chan<- struct{}
}

func (b *firstReadBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.once.Do(func() { b.read <- struct{}{} })
	}
	return n, err
}

// slowSender opens a connection, sends the headers of a large unsigned
// delivery and the first KiB of its body, and then sends nothing more.
func slowSender(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	head := "POST /webhook HTTP/1.1\r\nHost: tfpr\r\nContent-Type: application/json\r\n" +
		eventHeader + ": push\r\n" + deliveryHeader + ": slow\r\n" + signatureHeader + ": " + badSignature + "\r\n" +
		"Content-Length: " + strconv.Itoa(25<<20) + "\r\n\r\n"
	if _, err := io.WriteString(c, head+strings.Repeat(" ", 1<<10)); err != nil {
		t.Fatalf("write slow delivery: %v", err)
	}
	return c
}

func TestSlowSendersDoNotBlockSignedDeliveries(t *testing.T) {
	const senders = 64
	hs := newHarness(t, nil) // 64 in-flight slots, the default
	reading := make(chan struct{}, senders+1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = &firstReadBody{ReadCloser: r.Body, read: reading}
		hs.h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close) // after the slow senders' connections close
	addr := srv.Listener.Addr().String()
	conns := make([]net.Conn, senders)
	for i := range conns {
		conns[i] = slowSender(t, addr)
	}
	for range senders {
		<-reading // every slow body is being read by the handler
	}

	body := fixture(t, "push/with-new-branch.payload.json")
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhook", bytes.NewReader(body))
	req.Header = delivery("push", "d-signed", body).Header
	start := time.Now()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("signed delivery with %d slow senders connected: %v", senders, err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("signed delivery with %d slow senders connected: %d %q, want 202", senders, resp.StatusCode, text)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("signed delivery answered after %v, want well within GitHub's 10 s", took)
	}
	for _, c := range conns {
		c.Close()
	}
}

func TestSlowSenderCutOffAtBodyDeadline(t *testing.T) {
	hs := newHarness(t, func(o *Options) { o.BodyTimeout = 200 * time.Millisecond })
	srv := httptest.NewServer(hs.h)
	t.Cleanup(srv.Close)
	c := slowSender(t, srv.Listener.Addr().String())
	// The answer comes when the deadline passes, not when the sender goes.
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("slow sender: no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("slow sender past the body deadline: %d, want 408", resp.StatusCode)
	}
	if got := hs.count(t, "unknown", "body_timeout"); got != 1 {
		t.Errorf("deliveries_total{unknown,body_timeout} = %v, want 1", got)
	}
}

// floodChildEnv makes the test binary serve the handler for
// TestUnsignedFloodMemoryBounded, so the peak RSS measured is the server's
// alone.
const floodChildEnv = "TFPR_WEBHOOK_FLOOD_CHILD"

func TestUnsignedFloodServer(t *testing.T) {
	if os.Getenv(floodChildEnv) != "1" {
		t.Skip("run by TestUnsignedFloodMemoryBounded")
	}
	hs := newHarness(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: hs.h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	fmt.Printf("addr=%s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin) // until the parent is done
	srv.Close()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Printf("hwm=%s\n", strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
}

// spaces is an endless body that costs the sender no memory.
type spaces struct{}

func (spaces) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestUnsignedFloodMemoryBounded(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("peak RSS is read from /proc")
	}
	if raceEnabled {
		t.Skip("the race detector's shadow memory makes peak RSS meaningless")
	}
	const (
		flooders = 64
		size     = 25 << 20
		maxPeak  = 300 << 20
		signed   = 8
	)
	child := exec.Command(os.Args[0], "-test.run=^TestUnsignedFloodServer$", "-test.count=1")
	child.Env = append(os.Environ(), floodChildEnv+"=1")
	child.Stderr = os.Stderr
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	lines := bufio.NewScanner(stdout)
	var addr string
	for addr == "" && lines.Scan() {
		addr, _ = strings.CutPrefix(lines.Text(), "addr=")
	}
	if addr == "" {
		t.Fatal("server process printed no address")
	}
	url := "http://" + addr + "/webhook"
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: flooders + signed}}

	sending := make(chan struct{}, flooders)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var accepted []string
	for i := range flooders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := &firstReadBody{ReadCloser: io.NopCloser(io.LimitReader(spaces{}, size)), read: sending}
			req, _ := http.NewRequest(http.MethodPost, url, body)
			req.ContentLength = size
			req.Header.Set(eventHeader, "push")
			req.Header.Set(deliveryHeader, fmt.Sprintf("flood-%d", i))
			req.Header.Set(signatureHeader, badSignature)
			resp, err := client.Do(req)
			if err != nil {
				return // refused mid-body: the server hung up
			}
			resp.Body.Close()
			if resp.StatusCode < 300 {
				mu.Lock()
				accepted = append(accepted, fmt.Sprintf("flood-%d: %d", i, resp.StatusCode))
				mu.Unlock()
			}
		}()
	}
	for range flooders {
		<-sending // every flooder is sending its body
	}
	body := fixture(t, "push/with-new-branch.payload.json")
	for i := range signed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header = delivery("push", fmt.Sprintf("signed-%d", i), body).Header
			resp, err := client.Do(req)
			if err != nil {
				t.Errorf("signed delivery %d during the flood: %v", i, err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Errorf("signed delivery %d during the flood: %d, want 202", i, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if len(accepted) > 0 {
		t.Errorf("unsigned bodies accepted: %v", accepted)
	}
	stdin.Close()
	var hwm int64 = -1
	for lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), "hwm="); ok {
			hwm, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("server process: %v", err)
	}
	if hwm < 0 {
		t.Fatal("server process printed no peak RSS")
	}
	t.Logf("server peak RSS with %d unsigned %d MiB bodies: %d MiB", flooders, size>>20, hwm>>10)
	if hwm<<10 > maxPeak {
		t.Errorf("server peak RSS %d MiB, want under %d MiB", hwm>>10, maxPeak>>20)
	}
}
