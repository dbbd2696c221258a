package main

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
)

func TestKeyBits(t *testing.T) {
	random32 := make([]byte, 16)
	rand.Read(random32)
	generated, err := newAPIKey()
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

func TestProductionRefusesLowEntropyKeys(t *testing.T) {
	inTempDir(t)
	f := &fakeWork{}
	code, _, errOut := runFake(t, []string{"serve", "--env", "production"},
		[]string{"DATABASE_URL=sqlite:///p.db", "SECRET_KEY=0123456789abcdef"}, f)
	if code != exitUsage || f.served != nil {
		t.Fatalf("exit %d, served %t; want %d without serving", code, f.served != nil, exitUsage)
	}
	if !strings.Contains(errOut, "api_key") || !strings.Contains(errOut, "bits") {
		t.Errorf("stderr %q should name api_key and its entropy", errOut)
	}
	if strings.Contains(errOut, "0123456789abcdef") {
		t.Errorf("stderr shows the key: %q", errOut)
	}
}

func TestDevelopmentWarnsAboutWeakKeys(t *testing.T) {
	inTempDir(t)
	f := &fakeWork{}
	code, _, errOut := runFake(t, []string{"serve"},
		[]string{"SECRET_KEY=a", `PARTFLOW_API_KEYS=[{"name":"ci","key":"` + strongKey + `","role":"editor"},{"name":"kiosk","key":"kiosk1","role":"read-only"}]`}, f)
	if code != exitOK || f.served == nil {
		t.Fatalf("exit %d, served %t; development must still start", code, f.served != nil)
	}
	for _, want := range []string{"warning: api_key", `api_keys[1] (named "kiosk")`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, `"ci"`) || strings.Contains(errOut, "kiosk1") || strings.Contains(errOut, strongKey) {
		t.Errorf("stderr warns about the strong key or shows a key:\n%s", errOut)
	}
	f = &fakeWork{}
	if _, _, errOut := runFake(t, []string{"serve"}, []string{"SECRET_KEY=" + strongKey}, f); strings.Contains(errOut, "warning") {
		t.Errorf("a strong key is warned about:\n%s", errOut)
	}
}
