// Package webhook receives GitHub App webhook deliveries for tfpr: it verifies
// their signature, parses the few events tfpr acts on into small typed values,
// drops redeliveries and hands each event to a Dispatcher, answering GitHub
// within milliseconds while the real work happens later in the runner.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// signatureHeader carries the HMAC-SHA256 of the body keyed with the App's
// webhook secret, as "sha256=<hex>".
const (
	signatureHeader = "X-Hub-Signature-256"
	signaturePrefix = "sha256="
)

// Verify checks a delivery's X-Hub-Signature-256 value against body using
// secret. It returns an error when the signature is missing, malformed or
// does not match; the comparison is constant time.
func Verify(secret, body []byte, signature string) error {
	v, err := newVerifier(secret, signature)
	if err != nil {
		return err
	}
	v.mac.Write(body)
	return v.check()
}

// verifier checks a signature against a body hashed as it arrives, so the
// body is never read twice.
type verifier struct {
	want [sha256.Size]byte
	mac  hash.Hash
}

// newVerifier parses the X-Hub-Signature-256 value. A missing or malformed
// signature is refused here, before any of the body is read.
func newVerifier(secret []byte, signature string) (*verifier, error) {
	if len(secret) == 0 {
		// An empty key would make every signature computable by anyone.
		return nil, errors.New("verify signature: webhook secret is empty")
	}
	if signature == "" {
		return nil, fmt.Errorf("verify signature: %s is missing", signatureHeader)
	}
	hexSum, ok := strings.CutPrefix(signature, signaturePrefix)
	if !ok {
		return nil, fmt.Errorf("verify signature: %s does not start with %q", signatureHeader, signaturePrefix)
	}
	if len(hexSum) != 2*sha256.Size {
		return nil, fmt.Errorf("verify signature: %s has %d hex digits, want %d", signatureHeader, len(hexSum), 2*sha256.Size)
	}
	v := &verifier{mac: hmac.New(sha256.New, secret)}
	if _, err := hex.Decode(v.want[:], []byte(hexSum)); err != nil {
		return nil, fmt.Errorf("verify signature: %s is not hex: %w", signatureHeader, err)
	}
	return v, nil
}

// check compares the signature with the HMAC of everything written to mac.
func (v *verifier) check() error {
	if !hmac.Equal(v.want[:], v.mac.Sum(nil)) {
		return errors.New("verify signature: signature mismatch")
	}
	return nil
}
