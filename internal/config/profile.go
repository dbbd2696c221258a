package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/parts"
)

// Profile names.
const (
	ProfileDevelopment = "development"
	ProfileTesting     = "testing"
	ProfileProduction  = "production"
)

// profileNames lists the profiles in the order help and errors show them.
var profileNames = []string{ProfileDevelopment, ProfileTesting, ProfileProduction}

// baseDefaults returns the defaults shared by every profile, as a flat
// koanf map. Every setting appears here, so the flag provider can tell an
// unset flag from a set one (koanf issue #255).
func baseDefaults() map[string]any {
	return map[string]any{
		"env":                      ProfileDevelopment,
		"addr":                     "127.0.0.1:5000",
		"database_url":             "sqlite:///./data/partflow.db",
		"files_url":                "file://./data/files",
		"api_key":                  "",
		"api_keys":                 []any{},
		"cors_origins":             []string{},
		"base_path":                "",
		"static_dir":               "",
		"max_body_bytes":           int64(1 << 20),
		"max_file_size":            int64(200 << 20),
		"allowed_extensions":       []string{"step", "stp", "pdf"},
		"log.level":                "info",
		"log.format":               "text",
		"trusted_proxies":          []string{},
		"allow_query_api_key":      true,
		"plugins":                  []any{},
		"convert.wait":             2 * time.Second,
		"convert.lease":            30 * time.Second,
		"replica_id":               "",
		"metrics_addr":             "",
		"convert.max_triangles":    int64(5_000_000),
		"convert.max_output_bytes": int64(512 << 20),
		"cache.part_bytes":         int64(httpapi.DefaultPartCacheBytes),
		"cache.answer_bytes":       int64(httpapi.DefaultAnswerCacheBytes),
		"memory_limit":             int64(340 << 20),
		"model_wait":               30 * time.Second,
		"gc.grace":                 time.Hour,
		"gc.interval":              10 * time.Minute,
		"uploads.min_rate":         int64(256),
		"uploads.rate_window":      time.Minute,
		"uploads.max_per_client":   8,
		"onshape.base_url":         "https://cad.onshape.com",
		"onshape.access_key":       "",
		"onshape.secret_key":       "",
		"workflow":                 parts.WorkflowOriginal,
		"workflows":                []any{},
		"policy":                   []any{},
		"events.max_age":           time.Duration(0),
		"events.max_count":         1_000_000,
		"events.poll":              250 * time.Millisecond,
		"events.heartbeat":         15 * time.Second,
		"webhooks":                 []any{},
	}
}

// profileDefaults returns what profile name changes on top of
// baseDefaults, or false for an unknown profile.
//
// development listens on loopback only, logs text and accepts ?api_key=
// (the existing web client may use it). testing is the same but keeps its
// data in memory. production listens on all interfaces (behind a proxy or
// in a container), logs JSON and refuses keys in URLs, which end up in
// proxy logs.
func profileDefaults(name string) (map[string]any, bool) {
	switch name {
	case ProfileDevelopment:
		return map[string]any{
			"addr":                "127.0.0.1:5000",
			"log.format":          "text",
			"allow_query_api_key": true,
		}, true
	case ProfileTesting:
		return map[string]any{
			"addr":                "127.0.0.1:5000",
			"database_url":        "sqlite://:memory:",
			"files_url":           "mem://",
			"log.format":          "text",
			"allow_query_api_key": true,
		}, true
	case ProfileProduction:
		return map[string]any{
			"addr":                ":5000",
			"log.format":          "json",
			"allow_query_api_key": false,
		}, true
	}
	return nil, false
}

// weakKeys are well-known keys from examples and the original's defaults.
var weakKeys = []string{
	"dev-secret-key-change-in-production",
	"change-me",
	"changeme",
	"change-me-in-production",
	"secret",
	"password",
}

// CheckStartup applies the profile's rules for starting a command that
// opens the database; needKey adds the rules for serving requests. In
// production it refuses a missing, weak or defaulted API key and a
// defaulted or in-memory database. It returns every violation, each a
// *Error naming the setting.
func (c *Config) CheckStartup(needKey bool) error {
	if c.Env != ProfileProduction {
		return nil
	}
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Source: c.Source(key), Msg: fmt.Sprintf(format, args...)})
	}
	if !c.Source("database_url").Explicit() {
		add("database_url", "production needs an explicit database URL (database_url in the config file, PARTFLOW_DATABASE_URL, DATABASE_URL or --database-url)")
	} else if c.dbDSN == MemoryDSN {
		add("database_url", "production refuses an in-memory database: all data would be lost on restart")
	}
	if strings.HasPrefix(c.filesDSN, "mem://") {
		add("files_url", "production refuses an in-memory file store: uploads would be lost on restart")
	}
	if !needKey {
		return errors.Join(errs...)
	}
	if c.APIKey == "" && len(c.APIKeys) == 0 {
		add("api_key", "production needs an API key set explicitly (api_key in the config file, PARTFLOW_API_KEY or SECRET_KEY); `partflow init` writes a file with a random one")
	}
	if c.APIKey != "" {
		if !c.Source("api_key").Explicit() {
			add("api_key", "production needs an API key set explicitly, not a default")
		} else if why := keyWeakness(c.APIKey); why != "" {
			add("api_key", "the key %s; production needs a random key of at least %d bits, e.g. 32 hex or 32 base64url characters (`partflow init` makes one)", why, minKeyBits)
		}
	}
	for i, k := range c.APIKeys {
		if why := keyWeakness(k.Key); why != "" {
			add(fmt.Sprintf("api_keys[%d].key", i), "the key named %q %s; production needs a random key of at least %d bits", k.Name, why, minKeyBits)
		}
	}
	return errors.Join(errs...)
}

// APIKeyFile is the name of the generated key file beside the database.
const APIKeyFile = "api_key"

// NewAPIKey returns a random 32-byte key, base64url encoded (43 chars).
func NewAPIKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate API key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// EnsureAPIKey makes sure cfg has an API key for serving.
//
// If a key is configured (api_key or api_keys) it returns cfg.APIKey and
// generated=false, printing nothing. Otherwise, outside production, it
// reuses the key stored in dataDir/api_key or, when there is none,
// generates a random 32-byte base64url key, stores it there in a new 0600
// file (the directory is created 0700) and prints it once to out; later
// starts reuse the file and print only where it is. With dataDir "" (an
// in-memory or remote database) the generated key is not stored and lives
// as long as the process. The key is also set in cfg.APIKey.
// In production a missing key is an error: CheckStartup refuses it first.
func EnsureAPIKey(cfg *Config, dataDir string, out io.Writer) (key string, generated bool, err error) {
	if cfg.APIKey != "" || len(cfg.APIKeys) > 0 {
		return cfg.APIKey, false, nil
	}
	if cfg.Env == ProfileProduction {
		return "", false, &Error{Key: "api_key", Source: cfg.Source("api_key"), Msg: "production needs an API key set explicitly"}
	}
	if dataDir == "" {
		key, err := NewAPIKey()
		if err != nil {
			return "", false, err
		}
		cfg.APIKey = key
		if _, err := fmt.Fprintf(out, "No API key configured; generated one for this run only (the database is not a file, so it is not stored):\n\n    %s\n\nClients send it in the X-API-Key header. Set api_key (or PARTFLOW_API_KEY) to keep one.\n", key); err != nil {
			return "", false, fmt.Errorf("print API key: %w", err)
		}
		return key, true, nil
	}
	path := filepath.Join(dataDir, APIKeyFile)
	if key, err := readKeyFile(path); err == nil {
		cfg.APIKey = key
		if _, err := fmt.Fprintf(out, "Using the API key stored in %s\n", path); err != nil {
			return "", false, fmt.Errorf("print API key note: %w", err)
		}
		return key, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	key, err = NewAPIKey()
	if err != nil {
		return "", false, err
	}
	stored, err := storeKeyFile(dataDir, path, key)
	if err != nil {
		return "", false, err
	}
	cfg.APIKey = stored
	if stored != key {
		// Another process stored a key between our read and our write: use it.
		if _, err := fmt.Fprintf(out, "Using the API key stored in %s\n", path); err != nil {
			return "", false, fmt.Errorf("print API key note: %w", err)
		}
		return stored, false, nil
	}
	if _, err := fmt.Fprintf(out, "No API key configured; generated one and stored it in %s (mode 0600):\n\n    %s\n\nClients send it in the X-API-Key header. It is not shown again; read the file if you lose it.\n", path, key); err != nil {
		return "", false, fmt.Errorf("print API key: %w", err)
	}
	return key, true, nil
}

// readKeyFile reads a stored key, tightening the file's mode to 0600 if
// other users could read it.
func readKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read API key file: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if key == "" {
		return "", fmt.Errorf("API key file %s is empty: delete it to generate a new key", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("stat API key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return "", fmt.Errorf("restrict API key file %s to 0600: %w", path, err)
		}
	}
	return key, nil
}

// storeKeyFile writes key to path without ever exposing a partly written
// file or replacing an existing one: it writes a temporary file and links
// it into place. If path appeared meanwhile, it returns the stored key.
func storeKeyFile(dir, path, key string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create data directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".api_key-*")
	if err != nil {
		return "", fmt.Errorf("store API key: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600.
	if _, err := tmp.WriteString(key + "\n"); err != nil {
		tmp.Close()
		return "", fmt.Errorf("store API key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("store API key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("store API key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKeyFile(path)
		}
		return "", fmt.Errorf("store API key: %w", err)
	}
	return key, nil
}
