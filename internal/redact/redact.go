// Package redact masks credential shapes in text before it leaves tfpr: in
// every body sent to GitHub and in the log. It is a last line of defence
// behind terraform's own sensitive-value masking: a private key or token in
// a non-sensitive attribute is printed by terraform as any other string.
//
// The scan is a single forward pass with bounded look-ahead at each byte and
// no backtracking, so its cost is linear in the size of the text whatever
// the text holds.
package redact

import "strings"

// Placeholder replaces each credential. It is never longer than the
// shortest text it replaces, so masking cannot push a body over a size
// limit; and it holds no markdown, HTML or mention syntax.
const Placeholder = "«redacted»"

const (
	minToken    = 16 // characters after a token prefix (ya29., ghs_, ...)
	minKeyed    = 16 // characters of a value named by a secret key name
	maxPEMLabel = 64 // "-----BEGIN <label>-----"
	maxKeyGap   = 40 // between a secret key name and its value: quotes, spaces, ':' or '='
)

// String returns s with every credential it recognises replaced by
// Placeholder: PEM private-key blocks (also inside JSON strings with \n
// escapes, and cut-off ones), Google OAuth access tokens (ya29.), GitHub
// tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_), AWS access key ids
// (AKIA, ASIA) and the values of keys that name a secret
// (private_key_id, secret_access_key, ...).
func String(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		start, end, ok := match(s, i)
		if !ok {
			i++
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:start])
		b.WriteString(Placeholder)
		last, i = end, end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// match reports the credential at s[i:], if one starts there: the masked
// span is s[start:end], start >= i (a key name is kept, its value masked).
func match(s string, i int) (start, end int, ok bool) {
	switch s[i] {
	case '-':
		if e, ok := pem(s, i); ok {
			return i, e, true
		}
	case 'y':
		if strings.HasPrefix(s[i:], "ya29.") {
			return run(s, i, i+5, isTokenByte)
		}
	case 'g':
		for _, p := range githubPrefixes {
			if strings.HasPrefix(s[i:], p) {
				return run(s, i, i+len(p), isWordByte)
			}
		}
	case 'A':
		if strings.HasPrefix(s[i:], "AKIA") || strings.HasPrefix(s[i:], "ASIA") {
			return awsKeyID(s, i)
		}
	}
	return keyed(s, i)
}

var githubPrefixes = []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}

// run matches a token prefix s[i:j] followed by at least minToken bytes
// that in() accepts.
func run(s string, i, j int, in func(byte) bool) (int, int, bool) {
	k := j
	for k < len(s) && in(s[k]) {
		k++
	}
	if k-j < minToken {
		return 0, 0, false
	}
	return i, k, true
}

// awsKeyID matches AKIA/ASIA and exactly 16 upper-case letters or digits.
func awsKeyID(s string, i int) (int, int, bool) {
	end := i + 20
	if end > len(s) {
		return 0, 0, false
	}
	for k := i + 4; k < end; k++ {
		if c := s[k]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return 0, 0, false
		}
	}
	if end < len(s) && isAlnum(s[end]) {
		return 0, 0, false
	}
	return i, end, true
}

// pem matches "-----BEGIN <label containing PRIVATE KEY>-----" and the
// body after it up to and including its END line. Without an END line (the
// text was cut off) the body is masked as far as it looks like one.
func pem(s string, i int) (int, bool) {
	const begin, endMark, dashes = "-----BEGIN ", "-----END ", "-----"
	if !strings.HasPrefix(s[i:], begin) {
		return 0, false
	}
	j := i + len(begin)
	label, ok := pemLabel(s, j)
	if !ok || !strings.Contains(label, "PRIVATE KEY") {
		return 0, false
	}
	j += len(label) + len(dashes)
	for j < len(s) {
		if strings.HasPrefix(s[j:], endMark) {
			k := j + len(endMark)
			if l, ok := pemLabel(s, k); ok {
				return k + len(l) + len(dashes), true
			}
			return k, true
		}
		if !isPEMBody(s[j]) {
			break
		}
		j++
	}
	return j, true
}

// pemLabel reads "<label>-----" at s[j:], on one line, bounded.
func pemLabel(s string, j int) (string, bool) {
	for k := j; k < len(s) && k-j <= maxPEMLabel; k++ {
		switch {
		case strings.HasPrefix(s[k:], "-----"):
			return s[j:k], true
		case s[k] == '\n' || s[k] == '\r':
			return "", false
		}
	}
	return "", false
}

// secretKeys name values that are credentials wherever they appear: in
// service-account JSON, in terraform's rendering of it, in AWS config.
var secretKeys = []string{"private_key_id", "private_key", "secret_access_key", "secretaccesskey", "client_secret"}

// keyed matches a secret key name at s[i:], a short gap of quotes, spaces,
// backslashes and ':' or '=', and a value of at least minKeyed bytes; only
// the value is masked.
func keyed(s string, i int) (int, int, bool) {
	c := s[i] | 0x20
	for _, k := range secretKeys {
		if c != k[0] || len(s)-i < len(k) || !strings.EqualFold(s[i:i+len(k)], k) {
			continue
		}
		j, assigned := i+len(k), false
		for j < len(s) && j-i-len(k) < maxKeyGap && isGap(s[j]) {
			assigned = assigned || s[j] == ':' || s[j] == '='
			j++
		}
		if !assigned {
			continue
		}
		e := j
		for e < len(s) && isValueByte(s[e]) {
			e++
		}
		if e-j >= minKeyed {
			return j, e, true
		}
	}
	return 0, 0, false
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
func isWordByte(c byte) bool  { return isAlnum(c) || c == '_' }
func isTokenByte(c byte) bool { return isWordByte(c) || c == '-' || c == '.' }
func isValueByte(c byte) bool { return isTokenByte(c) || c == '/' || c == '+' || c == '=' }
func isGap(c byte) bool {
	return c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '\\' || c == ':' || c == '=' || c == '>'
}

// isPEMBody accepts base64, whitespace, the backslash of a JSON "\n", and
// the ':' ',' '-' of encrypted-key headers (Proc-Type: 4,ENCRYPTED).
func isPEMBody(c byte) bool {
	return isAlnum(c) || c == '+' || c == '/' || c == '=' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\\' || c == ':' || c == ',' || c == '-'
}
