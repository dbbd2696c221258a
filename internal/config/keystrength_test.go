package config

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
)

func TestKeyBits(t *testing.T) {
	random32 := make([]byte, 16)
	rand.Read(random32)
	generated, err := NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		key    string
		strong bool
	}{
		{"a single letter is weak", "a", false},
		{"16 hex digits are weak", "0123456789abcdef", false},
		{"20 hex digits are weak", "0123456789abcdef0123", false},
		{"a long run of one letter is weak", strings.Repeat("a", 200), false},
		{"a repeated word is weak", strings.Repeat("password", 8), false},
		{"the old 16-character minimum is weak", "short-key-16chrs", false},
		{"32 random hex digits are strong", hex.EncodeToString(random32), true},
		{"partflow init's key is strong", generated, true},
		{"32 mixed letters and digits are strong", strongKey, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bits := keyBits(tt.key)
			if got := bits >= minKeyBits; got != tt.strong {
				t.Errorf("keyBits(%q) = %.1f, strong = %t; want %t", tt.key, bits, got, tt.strong)
			}
			if got := keyWeakness(tt.key) == ""; got != tt.strong {
				t.Errorf("keyWeakness(%q) = %q", tt.key, keyWeakness(tt.key))
			}
		})
	}
}
