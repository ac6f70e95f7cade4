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
	if len(secret) == 0 {
		// An empty key would make every signature computable by anyone.
		return errors.New("verify signature: webhook secret is empty")
	}
	if signature == "" {
		return fmt.Errorf("verify signature: %s is missing", signatureHeader)
	}
	hexSum, ok := strings.CutPrefix(signature, signaturePrefix)
	if !ok {
		return fmt.Errorf("verify signature: %s does not start with %q", signatureHeader, signaturePrefix)
	}
	if len(hexSum) != 2*sha256.Size {
		return fmt.Errorf("verify signature: %s has %d hex digits, want %d", signatureHeader, len(hexSum), 2*sha256.Size)
	}
	var got [sha256.Size]byte
	if _, err := hex.Decode(got[:], []byte(hexSum)); err != nil {
		return fmt.Errorf("verify signature: %s is not hex: %w", signatureHeader, err)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got[:], mac.Sum(nil)) {
		return errors.New("verify signature: signature mismatch")
	}
	return nil
}
