package config

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMaskSecret(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "****"}, {"short", "****"}, {"elevenchars", "****"},
		{"twelve-chars", "tw…(12 chars)"}, {strongKey, "Zq…(32 chars)"},
	}
	for _, tt := range tests {
		if got := MaskSecret(tt.in); got != tt.want {
			t.Errorf("MaskSecret(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactDSN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:secret@h/db", "postgres://u:****@h/db"},
		{"postgres://u:p%40ss@h:5432/db?sslmode=disable", "postgres://u:****@h:5432/db?sslmode=disable"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://h/db?user=u&password=secret&sslmode=disable", "postgres://h/db?user=u&password=****&sslmode=disable"},
		{"sqlite:///data/p.db", "sqlite:///data/p.db"},
	}
	for _, tt := range tests {
		if got := RedactDSN(tt.in); got != tt.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNewLoggerFollowsConfig(t *testing.T) {
	inTempDir(t)
	cfg := mustLoad(t, []string{"--env", "production", "--log-level", "warn"}, nil)
	var b strings.Builder
	log := cfg.NewLogger(&b)
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	var rec map[string]any
	if err := json.Unmarshal([]byte(b.String()), &rec); err != nil || rec["msg"] != "shown" {
		t.Errorf("log output %q (%v), want one JSON warn record", b.String(), err)
	}
}
