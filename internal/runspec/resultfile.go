package runspec

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// ResultFile is where a worker leaves its result in its run directory, so
// a restarted server can adopt the run without the network. That directory
// is writable from inside the sandbox, so the file is sealed with a MAC
// keyed by the run token's hash: code running under terraform holds
// neither, and cannot forge a result the server would take.
const ResultFile = "result.json"

// TokenHash is what the server stores of a run's bearer token.
func TokenHash(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

type sealed struct {
	Result json.RawMessage `json:"result"`
	MAC    string          `json:"mac"`
}

func mac(tokenHash string, body []byte) string {
	m := hmac.New(sha256.New, []byte(tokenHash))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// SealResult is the result file's content for body, a result document.
func SealResult(tokenHash string, body []byte) ([]byte, error) {
	return json.Marshal(sealed{Result: body, MAC: mac(tokenHash, body)})
}

// ErrUnsealed is a result file whose MAC does not match the run's token.
var ErrUnsealed = errors.New("not sealed with the run's token")

// ReadResultFile reads the sealed result in dir and returns the result
// document. The file must be a regular file (no FIFO, device or symlink
// that could hang or flood the reader) of at most MaxResultBytes.
func ReadResultFile(dir, tokenHash string) ([]byte, error) {
	path := filepath.Join(dir, ResultFile)
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 2*MaxResultBytes+1024))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var s sealed
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(s.Result) > MaxResultBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxResultBytes)
	}
	if !hmac.Equal([]byte(s.MAC), []byte(mac(tokenHash, s.Result))) {
		return nil, fmt.Errorf("%s: %w", path, ErrUnsealed)
	}
	return s.Result, nil
}
