package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const strongKey = "Zq3v9Kx2LmN8pR4tW6yB1cD5fG7hJ0sA"

func TestProfileDefaults(t *testing.T) {
	dir := inTempDir(t)
	tests := []struct {
		profile    string
		addr       string
		dsn        string
		files      string
		logFormat  string
		allowQuery bool
	}{
		{ProfileDevelopment, "127.0.0.1:5000", "sqlite://" + dir + "/data/partflow.db", "file://" + dir + "/data/files", "text", true},
		{ProfileTesting, "127.0.0.1:5000", MemoryDSN, "mem://", "text", true},
		{ProfileProduction, ":5000", "sqlite://" + dir + "/data/partflow.db", "file://" + dir + "/data/files", "json", false},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			cfg := mustLoad(t, []string{"--env", tt.profile}, nil)
			if cfg.Env != tt.profile || cfg.Addr != tt.addr || cfg.DatabaseDSN() != tt.dsn || cfg.FilesDSN() != tt.files ||
				cfg.Log.Format != tt.logFormat || cfg.AllowQueryAPIKey != tt.allowQuery {
				t.Errorf("got env=%s addr=%s dsn=%s files=%s log=%s query=%t; want %s %s %s %s %s %t",
					cfg.Env, cfg.Addr, cfg.DatabaseDSN(), cfg.FilesDSN(), cfg.Log.Format, cfg.AllowQueryAPIKey,
					tt.profile, tt.addr, tt.dsn, tt.files, tt.logFormat, tt.allowQuery)
			}
		})
	}
	t.Run("default profile is development", func(t *testing.T) {
		if cfg := mustLoad(t, nil, nil); cfg.Env != ProfileDevelopment {
			t.Errorf("Env = %q, want development", cfg.Env)
		}
	})
	t.Run("testing keeps an explicit database", func(t *testing.T) {
		cfg := mustLoad(t, []string{"--env", "testing"}, []string{"DATABASE_URL=sqlite:///t.db", "UPLOAD_FOLDER=up"})
		if cfg.DatabaseDSN() != "sqlite://"+dir+"/t.db" || cfg.FilesDSN() != "file://"+dir+"/up" {
			t.Errorf("dsn, files = %s, %s", cfg.DatabaseDSN(), cfg.FilesDSN())
		}
	})
	t.Run("profile from the config file", func(t *testing.T) {
		f := writeFile(t, t.TempDir(), "p.yaml", "env: production\n")
		cfg := mustLoad(t, []string{"--config", f}, nil)
		if cfg.Env != ProfileProduction || cfg.Log.Format != "json" {
			t.Errorf("Env, Log.Format = %s, %s; want production, json", cfg.Env, cfg.Log.Format)
		}
	})
}

func TestCheckStartup(t *testing.T) {
	inTempDir(t)
	prod := []string{"--env", "production"}
	db := "DATABASE_URL=sqlite:////srv/partflow/parts.db"
	tests := []struct {
		name     string
		args     []string
		environ  []string
		wantKeys []string // nil: starts
		wantMsg  string
	}{
		{"production refuses a missing key", prod, []string{db}, []string{"api_key"}, "API key set explicitly"},
		{"production refuses the original's default key", prod, []string{db, "SECRET_KEY=dev-secret-key-change-in-production"}, []string{"api_key"}, "well-known"},
		{"production refuses change-me", prod, []string{db, "PARTFLOW_API_KEY=change-me"}, []string{"api_key"}, "well-known"},
		{"production refuses a short key", prod, []string{db, "SECRET_KEY=short-key-15chr"}, []string{"api_key"}, "bits of entropy"},
		{"production refuses a missing database URL", prod, []string{"SECRET_KEY=" + strongKey}, []string{"database_url"}, "explicit database URL"},
		{"production refuses an in-memory database", prod, []string{"SECRET_KEY=" + strongKey, "DATABASE_URL=sqlite://:memory:"}, []string{"database_url"}, "in-memory"},
		{"production refuses an in-memory file store", append(prod, "--files-url", "mem://"), []string{"SECRET_KEY=" + strongKey, db}, []string{"files_url"}, "in-memory"},
		{"production refuses both missing", prod, nil, []string{"database_url", "api_key"}, "production"},
		{"production refuses a weak named key", prod, []string{db, "SECRET_KEY=" + strongKey, `PARTFLOW_API_KEYS=[{"name":"ci","key":"ci-key","role":"editor"}]`}, []string{"api_keys[0].key"}, `"ci"`},
		{"production accepts named keys only", prod, []string{db, `PARTFLOW_API_KEYS=[{"name":"ci","key":"` + strongKey + `","role":"admin"}]`}, nil, ""},
		{"production starts with an explicit strong key and database", prod, []string{db, "SECRET_KEY=" + strongKey}, nil, ""},
		{"development starts with nothing set", nil, nil, nil, ""},
		{"development accepts a weak key", nil, []string{"SECRET_KEY=dev-secret-key-change-in-production"}, nil, ""},
		{"testing starts with nothing set", []string{"--env", "testing"}, nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustLoad(t, tt.args, tt.environ)
			err := cfg.CheckStartup(true)
			if tt.wantKeys == nil {
				if err != nil {
					t.Fatalf("CheckStartup: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("CheckStartup succeeded, want a refusal")
			}
			if got := errorKeys(err); strings.Join(got, ",") != strings.Join(tt.wantKeys, ",") {
				t.Errorf("keys = %q, want %q (error: %v)", got, tt.wantKeys, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestEnsureAPIKey(t *testing.T) {
	t.Run("generates once, stores 0600, reuses without printing", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		cfg := &Config{Env: ProfileDevelopment}
		var out1 strings.Builder
		key, generated, err := EnsureAPIKey(cfg, dir, &out1)
		if err != nil {
			t.Fatal(err)
		}
		if !generated || len(key) != 43 || cfg.APIKey != key {
			t.Fatalf("got key %q (len %d), generated %t, cfg.APIKey %q; want a new 43-char key set in cfg", key, len(key), generated, cfg.APIKey)
		}
		if strings.Count(out1.String(), key) != 1 {
			t.Errorf("first output shows the key %d times, want once:\n%s", strings.Count(out1.String(), key), out1.String())
		}
		fi, err := os.Stat(filepath.Join(dir, APIKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
		}
		if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
			t.Errorf("data dir mode = %v (%v), want 0700", di.Mode().Perm(), err)
		}

		cfg2 := &Config{Env: ProfileDevelopment}
		var out2 strings.Builder
		key2, generated2, err := EnsureAPIKey(cfg2, dir, &out2)
		if err != nil {
			t.Fatal(err)
		}
		if generated2 || key2 != key || cfg2.APIKey != key {
			t.Errorf("second call: key equal %t, generated %t; want the stored key, not generated", key2 == key, generated2)
		}
		if strings.Contains(out2.String(), key) {
			t.Errorf("second output shows the key again: %q", out2.String())
		}
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) != 1 {
			t.Errorf("data dir holds %v (%v), want only the key file", entries, err)
		}
	})
	t.Run("configured key is kept and nothing is printed or stored", func(t *testing.T) {
		dir := t.TempDir()
		cfg := &Config{Env: ProfileDevelopment, APIKey: strongKey}
		var out strings.Builder
		key, generated, err := EnsureAPIKey(cfg, dir, &out)
		if err != nil || generated || key != strongKey || out.Len() != 0 {
			t.Errorf("got %q, %t, %v, output %q; want the configured key silently", key, generated, err, out.String())
		}
		if _, err := os.Stat(filepath.Join(dir, APIKeyFile)); !os.IsNotExist(err) {
			t.Errorf("key file exists (%v), want none", err)
		}
	})
	t.Run("named keys alone need no generated key", func(t *testing.T) {
		cfg := &Config{Env: ProfileDevelopment, APIKeys: []APIKey{{Name: "a", Key: strongKey, Role: RoleAdmin}}}
		if key, generated, err := EnsureAPIKey(cfg, t.TempDir(), io.Discard); err != nil || generated || key != "" {
			t.Errorf("got %q, %t, %v; want no shared key", key, generated, err)
		}
	})
	t.Run("no data dir generates a key for this run only", func(t *testing.T) {
		cfg := &Config{Env: ProfileTesting}
		var out strings.Builder
		key, generated, err := EnsureAPIKey(cfg, "", &out)
		if err != nil || !generated || len(key) != 43 || !strings.Contains(out.String(), key) {
			t.Errorf("got %q, %t, %v, output %q", key, generated, err, out.String())
		}
	})
	t.Run("production never generates", func(t *testing.T) {
		cfg := &Config{Env: ProfileProduction}
		dir := t.TempDir()
		if _, _, err := EnsureAPIKey(cfg, dir, io.Discard); err == nil || !strings.Contains(err.Error(), "api_key") {
			t.Errorf("err = %v, want one naming api_key", err)
		}
	})
	t.Run("a readable stored key is restricted to 0600", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, APIKeyFile)
		if err := os.WriteFile(path, []byte(strongKey+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := &Config{Env: ProfileDevelopment}
		key, generated, err := EnsureAPIKey(cfg, dir, io.Discard)
		if err != nil || generated || key != strongKey {
			t.Fatalf("got %q, %t, %v; want the stored key", key, generated, err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("mode = %v (%v), want 0600", fi.Mode().Perm(), err)
		}
	})
	t.Run("an empty stored key is an error", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, APIKeyFile, "\n")
		if _, _, err := EnsureAPIKey(&Config{Env: ProfileDevelopment}, dir, io.Discard); err == nil {
			t.Error("err = nil, want an error about the empty file")
		}
	})
}
