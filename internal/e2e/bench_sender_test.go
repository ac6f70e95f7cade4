package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
)

// sender delivers webhooks the way a load generator does: the headers
// built in a reused buffer and written with the body in one writev, on a
// kept-alive connection. The benchmarks' senders share the server's heap,
// and net/http's client copies every request body through a fresh 32 KB
// buffer: that was nine tenths of the garbage per ack, and its collections
// stalled the server as GitHub at the other end never would.
type sender struct {
	addr, path, host string
	conn             net.Conn
	r                *bufio.Reader
	head             []byte
}

func newSender(rawURL string) (*sender, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	return &sender{addr: u.Host, path: u.RequestURI(), host: u.Host}, nil
}

// post sends one delivery and returns the response status. A connection
// the server closed is dialled again once.
func (s *sender) post(event, id string, body, signature []byte) (int, error) {
	for attempt := 0; ; attempt++ {
		code, err := s.try(event, id, body, signature)
		if err == nil || attempt == 1 {
			return code, err
		}
		s.close()
	}
}

func (s *sender) try(event, id string, body, signature []byte) (int, error) {
	if s.conn == nil {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			return 0, err
		}
		s.conn, s.r = c, bufio.NewReader(c)
	}
	h := s.head[:0]
	h = fmt.Appendf(h, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: GitHub-Hookshot/bench\r\nContent-Type: application/json\r\n", s.path, s.host)
	h = fmt.Appendf(h, "X-GitHub-Event: %s\r\nX-GitHub-Delivery: %s\r\nX-Hub-Signature-256: %s\r\nContent-Length: %d\r\n\r\n", event, id, signature, len(body))
	s.head = h
	bufs := net.Buffers{h, body}
	if _, err := bufs.WriteTo(s.conn); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(s.r, nil)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		s.close()
	}
	return resp.StatusCode, err
}

func (s *sender) close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn, s.r = nil, nil
	}
}
