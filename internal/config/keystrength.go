package config

import (
	"bytes"
	"compress/flate"
	"fmt"
	"math"
	"strings"
	"unicode"
)

// minKeyBits is the least estimated entropy, in bits, of an API key that
// production accepts. 128 bits cannot be guessed online at any rate, which
// is what lets the server always serve a valid key instead of locking out
// an address after failures (see the README's "API keys").
const minKeyBits = 128

// keyBits estimates the entropy of key in bits, generously for random keys
// and harshly for human ones: each character counts the bits of the
// smallest usual alphabet the key's characters fit in (hex, digits, one
// letter case, letters and digits, base64url, printable ASCII), but never
// more than one bit above the key's own per-character Shannon entropy, so
// a few characters used over and over count little; and the total never
// exceeds the bits of the key compressed with DEFLATE, so repeated words
// count once. A 32-character hex key gives 128 bits, `partflow init`'s
// 43-character base64url key about 250, "0123456789abcdef" 64.
func keyBits(key string) float64 {
	n := len([]rune(key))
	if n == 0 {
		return 0
	}
	perChar := math.Log2(float64(alphabetSize(key)))
	counts := map[rune]int{}
	for _, r := range key {
		counts[r]++
	}
	shannon := 0.0
	for _, c := range counts {
		p := float64(c) / float64(n)
		shannon -= p * math.Log2(p)
	}
	return min(float64(n)*min(perChar, shannon+1), compressedBits(key))
}

// compressedBits is the size in bits of key compressed with DEFLATE, less
// the block's fixed overhead.
func compressedBits(key string) float64 {
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		return math.Inf(1) // cannot happen with a valid level
	}
	w.Write([]byte(key)) // writes to a bytes.Buffer do not fail
	w.Close()
	return float64(8 * max(b.Len()-2, 0))
}

// alphabetSize is the size of the smallest usual alphabet holding every
// character of key.
func alphabetSize(key string) int {
	var lower, upper, digit, urlSym, other bool
	hex := true
	for _, r := range key {
		switch {
		case r >= '0' && r <= '9':
			digit = true
		case r >= 'a' && r <= 'z':
			lower = true
			hex = hex && r <= 'f'
		case r >= 'A' && r <= 'Z':
			upper = true
			hex = hex && r <= 'F'
		case r == '-' || r == '_':
			urlSym = true
		case r < unicode.MaxASCII && unicode.IsPrint(r):
			other = true
		default:
			return 256 // beyond ASCII: count a byte per character at most
		}
	}
	switch {
	case other:
		return 95
	case urlSym:
		return 64
	case hex && !(lower && upper):
		if !lower && !upper {
			return 10
		}
		return 16
	}
	size := 0
	for _, c := range []struct {
		has bool
		n   int
	}{{lower, 26}, {upper, 26}, {digit, 10}} {
		if c.has {
			size += c.n
		}
	}
	return size
}

// keyWeakness returns why key is too weak for production, or "".
func keyWeakness(key string) string {
	for _, w := range weakKeys {
		if strings.EqualFold(key, w) {
			return "is a well-known example key"
		}
	}
	if bits := keyBits(key); bits < minKeyBits {
		return fmt.Sprintf("has about %.0f bits of entropy, under %d", bits, minKeyBits)
	}
	return ""
}

// KeyWarnings lists the configured keys too weak for production, each
// named by its setting (never by its value), for development and testing
// to print at start; production refuses them instead (CheckStartup).
func (c *Config) KeyWarnings() []string {
	var out []string
	if c.APIKey != "" {
		if why := keyWeakness(c.APIKey); why != "" {
			out = append(out, fmt.Sprintf("api_key (from %s) %s: anyone who can reach the server may guess it; production refuses it", c.Source("api_key"), why))
		}
	}
	for i, k := range c.APIKeys {
		if why := keyWeakness(k.Key); why != "" {
			out = append(out, fmt.Sprintf("api_keys[%d] (named %q) %s: anyone who can reach the server may guess it; production refuses it", i, k.Name, why))
		}
	}
	return out
}
