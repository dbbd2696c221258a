package config

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// inTempDir changes into a fresh directory for the test and returns it
// with symlinks resolved, as os.Getwd reports it.
func inTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mustLoad loads a configuration or fails the test.
func mustLoad(t *testing.T, args, environ []string) *Config {
	t.Helper()
	cfg, err := Load(args, environ, io.Discard)
	if err != nil {
		t.Fatalf("Load(%q, %q): %v", args, environ, err)
	}
	return cfg
}

// errorKeys returns the keys named by the *Errors in err.
func errorKeys(err error) []string {
	var keys []string
	for _, e := range unjoin(err) {
		var ce *Error
		if errors.As(e, &ce) {
			keys = append(keys, ce.Key)
		}
	}
	return keys
}

func TestLoadPrecedence(t *testing.T) {
	dir := inTempDir(t)
	file := writeFile(t, dir, "partflow.yaml", "addr: 0.0.0.0:7000\nlog:\n  level: debug\n")
	tests := []struct {
		name       string
		args       []string
		environ    []string
		wantAddr   string
		wantSource Source
	}{
		{"default wins alone", nil, nil, "127.0.0.1:5000", Source{Layer: LayerProfile, Detail: "development"}},
		{"file beats default", []string{"--config", file}, nil, "0.0.0.0:7000", Source{Layer: LayerFile, Detail: file}},
		{"config file from PARTFLOW_CONFIG", nil, []string{"PARTFLOW_CONFIG=" + file}, "0.0.0.0:7000", Source{Layer: LayerFile, Detail: file}},
		{"env beats file", []string{"--config", file}, []string{"PARTFLOW_ADDR=10.0.0.1:7001"}, "10.0.0.1:7001", Source{Layer: LayerEnv, Detail: "PARTFLOW_ADDR"}},
		{"flag beats env", []string{"--config", file, "--addr", "127.0.0.1:7002"}, []string{"PARTFLOW_ADDR=10.0.0.1:7001"}, "127.0.0.1:7002", Source{Layer: LayerFlag, Detail: "--addr"}},
		{"unset flag keeps file value", []string{"--config", file, "--log-format", "json"}, nil, "0.0.0.0:7000", Source{Layer: LayerFile, Detail: file}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustLoad(t, tt.args, tt.environ)
			if cfg.Addr != tt.wantAddr {
				t.Errorf("Addr = %q, want %q", cfg.Addr, tt.wantAddr)
			}
			if got := cfg.Source("addr"); got != tt.wantSource {
				t.Errorf("Source(addr) = %v, want %v", got, tt.wantSource)
			}
		})
	}
}

func TestLoadUnsetFlagsDoNotClobberFile(t *testing.T) {
	dir := inTempDir(t)
	// Every value differs from what the corresponding unset flag holds
	// (empty string, false, 0, nil) and from the defaults.
	file := writeFile(t, dir, "p.yaml", `
env: production
log: {level: debug, format: text}
allow_query_api_key: true
cors_origins: [http://localhost:5173]
max_file_size: 10MiB
convert: {wait: 5s}
`)
	cfg := mustLoad(t, []string{"--config", file, "--addr", ":6000"}, nil)
	got := map[string]any{
		"log.level": cfg.Log.Level, "log.format": cfg.Log.Format,
		"allow_query_api_key": cfg.AllowQueryAPIKey, "cors_origins": cfg.CORSOrigins,
		"max_file_size": cfg.MaxFileSize, "convert.wait": cfg.Convert.Wait,
	}
	want := map[string]any{
		"log.level": "debug", "log.format": "text",
		"allow_query_api_key": true, "cors_origins": []string{"http://localhost:5173"},
		"max_file_size": ByteSize(10 << 20), "convert.wait": 5 * time.Second,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	for key := range want {
		if s := cfg.Source(key); s.Layer != LayerFile {
			t.Errorf("Source(%s) = %v, want the file", key, s)
		}
	}
	if s := cfg.Source("addr"); s != (Source{Layer: LayerFlag, Detail: "--addr"}) {
		t.Errorf("Source(addr) = %v, want flag --addr", s)
	}
}

func TestLoadOriginalEnvironmentNames(t *testing.T) {
	dir := inTempDir(t)
	tests := []struct {
		name    string
		args    []string
		environ []string
		check   func(*Config) (got, want any)
		key     string
		source  string
	}{
		{"SECRET_KEY sets the API key", nil, []string{"SECRET_KEY=0123456789abcdef0123"},
			func(c *Config) (any, any) { return c.APIKey, "0123456789abcdef0123" }, "api_key", "env SECRET_KEY"},
		{"PARTFLOW_API_KEY beats SECRET_KEY", nil, []string{"SECRET_KEY=old-old-old-old-old", "PARTFLOW_API_KEY=new-new-new-new-new"},
			func(c *Config) (any, any) { return c.APIKey, "new-new-new-new-new" }, "api_key", "env PARTFLOW_API_KEY"},
		{"DATABASE_URL sqlite three slashes is relative", nil, []string{"DATABASE_URL=sqlite:///parts.db"},
			func(c *Config) (any, any) { return c.DatabaseDSN(), "sqlite://" + dir + "/parts.db" }, "database_url", "env DATABASE_URL"},
		{"DATABASE_URL sqlite four slashes is absolute", nil, []string{"DATABASE_URL=sqlite:////srv/partflow/parts.db"},
			func(c *Config) (any, any) { return c.DatabaseDSN(), "sqlite:///srv/partflow/parts.db" }, "database_url", "env DATABASE_URL"},
		{"DATABASE_URL postgres passes through", nil, []string{"DATABASE_URL=postgres://u:p@db:5432/parts?sslmode=disable"},
			func(c *Config) (any, any) { return c.DatabaseDSN(), "postgres://u:p@db:5432/parts?sslmode=disable" }, "database_url", "env DATABASE_URL"},
		{"PORT replaces the development port", nil, []string{"PORT=8080"},
			func(c *Config) (any, any) { return c.Addr, "127.0.0.1:8080" }, "addr", "env PORT"},
		{"PORT replaces the production port", []string{"--env", "production"}, []string{"PORT=8080"},
			func(c *Config) (any, any) { return c.Addr, ":8080" }, "addr", "env PORT"},
		{"PARTFLOW_ADDR beats PORT", nil, []string{"PORT=8080", "PARTFLOW_ADDR=127.0.0.1:9000"},
			func(c *Config) (any, any) { return c.Addr, "127.0.0.1:9000" }, "addr", "env PARTFLOW_ADDR"},
		{"flag beats PORT", []string{"--addr", "127.0.0.1:9001"}, []string{"PORT=8080"},
			func(c *Config) (any, any) { return c.Addr, "127.0.0.1:9001" }, "addr", "flag --addr"},
		{"CORS_ORIGINS is a comma list", nil, []string{"CORS_ORIGINS=http://localhost:5173, https://parts.example.org/"},
			func(c *Config) (any, any) {
				return c.CORSOrigins, []string{"http://localhost:5173", "https://parts.example.org"}
			}, "cors_origins", "env CORS_ORIGINS"},
		{"MAX_FILE_SIZE is bytes", nil, []string{"MAX_FILE_SIZE=52428800"},
			func(c *Config) (any, any) { return c.MaxFileSize, ByteSize(50 << 20) }, "max_file_size", "env MAX_FILE_SIZE"},
		{"ALLOWED_EXTENSIONS is a comma list", nil, []string{"ALLOWED_EXTENSIONS=STEP,.stl, pdf"},
			func(c *Config) (any, any) { return c.AllowedExtensions, []string{"step", "stl", "pdf"} }, "allowed_extensions", "env ALLOWED_EXTENSIONS"},
		{"BASE_PATH loses its trailing slash", nil, []string{"BASE_PATH=/part-management-system/"},
			func(c *Config) (any, any) { return c.BasePath, "/part-management-system" }, "base_path", "env BASE_PATH"},
		{"UPLOAD_FOLDER is a folder", nil, []string{"UPLOAD_FOLDER=uploads"},
			func(c *Config) (any, any) { return c.FilesDSN(), "file://" + dir + "/uploads" }, "files_url", "env UPLOAD_FOLDER"},
		{"FLASK_ENV picks the profile", nil, []string{"FLASK_ENV=testing"},
			func(c *Config) (any, any) { return c.Env, ProfileTesting }, "env", "env FLASK_ENV"},
		{"PARTFLOW_ENV beats FLASK_ENV", nil, []string{"FLASK_ENV=production", "PARTFLOW_ENV=testing"},
			func(c *Config) (any, any) { return c.Env, ProfileTesting }, "env", "env PARTFLOW_ENV"},
		{"nested PARTFLOW_ variable", nil, []string{"PARTFLOW_LOG__LEVEL=WARNING"},
			func(c *Config) (any, any) { return c.Log.Level, "warn" }, "log.level", "env PARTFLOW_LOG__LEVEL"},
		{"api_keys as JSON", nil, []string{`PARTFLOW_API_KEYS=[{"name":"ci","key":"k-k-k-k-k-k-k-k-k","role":"Read-Only"}]`},
			func(c *Config) (any, any) {
				return c.APIKeys, []APIKey{{Name: "ci", Key: "k-k-k-k-k-k-k-k-k", Role: RoleReadOnly}}
			}, "api_keys", "env PARTFLOW_API_KEYS"},
		{"empty variable counts as unset", nil, []string{"SECRET_KEY="},
			func(c *Config) (any, any) { return c.APIKey, "" }, "api_key", "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustLoad(t, tt.args, tt.environ)
			got, want := tt.check(cfg)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
			if s := cfg.Source(tt.key).String(); s != tt.source {
				t.Errorf("Source(%s) = %q, want %q", tt.key, s, tt.source)
			}
		})
	}
}

func TestNormalizeDatabaseURL(t *testing.T) {
	dir := inTempDir(t)
	tests := []struct {
		in, wantDSN, wantPath string
	}{
		{"sqlite:///parts.db", "sqlite://" + dir + "/parts.db", dir + "/parts.db"},
		{"sqlite:///./data/partflow.db", "sqlite://" + dir + "/data/partflow.db", dir + "/data/partflow.db"},
		{"sqlite:////var/lib/partflow/parts.db", "sqlite:///var/lib/partflow/parts.db", "/var/lib/partflow/parts.db"},
		{"sqlite://parts.db", "sqlite://" + dir + "/parts.db", dir + "/parts.db"},
		{"sqlite:///parts.db?_busy_timeout=5000", "sqlite://" + dir + "/parts.db?_busy_timeout=5000", dir + "/parts.db"},
		{"./local.db", "sqlite://" + dir + "/local.db", dir + "/local.db"},
		{"/abs/local.db", "sqlite:///abs/local.db", "/abs/local.db"},
		{"sqlite://:memory:", MemoryDSN, ""},
		{"sqlite://", MemoryDSN, ""},
		{"sqlite:///:memory:", MemoryDSN, ""},
		{"postgres://u:p@h/db", "postgres://u:p@h/db", ""},
		{"postgresql://h/db?sslmode=require", "postgres://h/db?sslmode=require", ""},
		{"postgresql+psycopg2://u:p@h/db", "postgres://u:p@h/db", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			dsn, path, err := NormalizeDatabaseURL(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if dsn != tt.wantDSN || path != tt.wantPath {
				t.Errorf("got (%q, %q), want (%q, %q)", dsn, path, tt.wantDSN, tt.wantPath)
			}
		})
	}
	for _, bad := range []string{"", "mysql://h/db", "sqlite:///data/", "c:parts"} {
		t.Run("rejects "+bad, func(t *testing.T) {
			if dsn, _, err := NormalizeDatabaseURL(bad); err == nil {
				t.Errorf("NormalizeDatabaseURL(%q) = %q, want an error", bad, dsn)
			}
		})
	}
}

func TestLoadInvalidValueNamesTheKey(t *testing.T) {
	dir := inTempDir(t)
	notDir := writeFile(t, dir, "plain.txt", "x")
	tests := []struct {
		name    string
		args    []string
		environ []string
		file    string // YAML content of a config file, if any
		wantKey string
		wantMsg string
	}{
		{"bad duration from env", nil, []string{"PARTFLOW_MODEL_WAIT=soon"}, "", "model_wait", "PARTFLOW_MODEL_WAIT"},
		{"unitless duration from file", nil, nil, "convert:\n  wait: 30\n", "convert.wait", "needs a unit"},
		{"bad size from the original env", nil, []string{"MAX_FILE_SIZE=12QB"}, "", "max_file_size", "MAX_FILE_SIZE"},
		{"negative size", []string{"--max-body-bytes", "-5"}, nil, "", "max_body_bytes", "invalid size"},
		{"zero size", []string{"--max-body-bytes", "0"}, nil, "", "max_body_bytes", "must be positive"},
		{"unknown log level", []string{"--log-level", "loud"}, nil, "", "log.level", "--log-level"},
		{"unknown log format", nil, []string{"PARTFLOW_LOG__FORMAT=xml"}, "", "log.format", "xml"},
		{"unknown profile", []string{"--env", "staging"}, nil, "", "env", "staging"},
		{"unknown profile from FLASK_ENV", nil, []string{"FLASK_ENV=staging"}, "", "env", "FLASK_ENV"},
		{"bad CIDR", nil, []string{"PARTFLOW_TRUSTED_PROXIES=10.0.0.0/8,10.1.0.0/40"}, "", "trusted_proxies[1]", "10.1.0.0/40"},
		{"bad database scheme", nil, []string{"DATABASE_URL=mysql://h/db"}, "", "database_url", "mysql"},
		{"bad files scheme", []string{"--files-url", "ftp://h/x"}, nil, "", "files_url", "ftp"},
		{"base path without slash", nil, []string{"BASE_PATH=pms"}, "", "base_path", `start with "/"`},
		{"bad address", []string{"--addr", "localhost"}, nil, "", "addr", "host:port"},
		{"bad PORT", nil, []string{"PORT=http"}, "", "addr", "PORT"},
		{"bad CORS origin", nil, []string{"CORS_ORIGINS=localhost:5173"}, "", "cors_origins[0]", "origin"},
		{"missing static dir", []string{"--static", filepath.Join(dir, "nope")}, nil, "", "static_dir", "no such file"},
		{"static dir is a file", []string{"--static", notDir}, nil, "", "static_dir", "not a directory"},
		{"bad extension", nil, []string{"ALLOWED_EXTENSIONS=step,../x"}, "", "allowed_extensions[1]", "invalid extension"},
		{"unknown role", nil, nil, "api_keys:\n  - {name: ci, key: kkkkkkkkkkkkkkkkkk, role: god}\n", "api_keys[0].role", "god"},
		{"unknown field in an api key", nil, nil, "api_keys:\n  - {name: ci, key: kkkkkkkkkkkkkkkkkk, role: editor, rol: x}\n", "api_keys[0]", "rol"},
		{"duplicate api key names", nil, nil, "api_keys:\n  - {name: ci, key: aaaaaaaaaaaaaaaaaa, role: editor}\n  - {name: ci, key: bbbbbbbbbbbbbbbbbb, role: editor}\n", "api_keys[1].name", "duplicate"},
		{"plugin without command", nil, nil, "plugins:\n  - {name: cascadio, formats: [step]}\n", "plugins[0].command", "missing"},
		{"plugin pool too large", nil, nil, "plugins:\n  - {name: c, command: [x], formats: [step], pool_size: 1000}\n", "plugins[0].pool_size", "1-64"},
		{"plugin with an unknown option", nil, nil, "plugins:\n  - {name: c, command: [x], formats: [step], options: {deflection: \"1\"}}\n", "plugins[0].options", "unknown option"},
		{"plugin with a bad tolerance", nil, nil, "plugins:\n  - {name: c, command: [x], formats: [step], options: {linear_tolerance: \"-1\"}}\n", "plugins[0].options", "linear tolerance"},
		{"unknown setting in file", nil, nil, "databse_url: x\n", "databse_url", "unknown setting"},
		{"mistyped nested setting in file", nil, nil, "log_level: debug\n", "log_level", "did you mean log.level"},
		{"bad boolean", []string{}, []string{"PARTFLOW_ALLOW_QUERY_API_KEY=maybe"}, "", "allow_query_api_key", "maybe"},
		{"unknown workflow", nil, nil, "workflow: lenient\n", "workflow", "want original or strict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append([]string{"--config", writeFile(t, t.TempDir(), "c.yaml", tt.file)}, args...)
			}
			_, err := Load(args, tt.environ, io.Discard)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			keys := errorKeys(err)
			found := false
			for _, k := range keys {
				found = found || k == tt.wantKey
			}
			if !found {
				t.Errorf("error names keys %q, want %q; error: %v", keys, tt.wantKey, err)
			}
			if !strings.Contains(err.Error(), tt.wantKey) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q and %q", err, tt.wantKey, tt.wantMsg)
			}
		})
	}
}

func TestLoadErrorDoesNotShowDatabasePassword(t *testing.T) {
	inTempDir(t)
	_, err := Load(nil, []string{"DATABASE_URL=user:hunter2@db/parts"}, io.Discard)
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "database_url") {
		t.Errorf("err = %v; want one naming database_url without the password", err)
	}
}

func TestLoadReportsEveryInvalidSetting(t *testing.T) {
	inTempDir(t)
	_, err := Load([]string{"--log-level", "loud", "--base-path", "x"}, []string{"PARTFLOW_MODEL_WAIT=30"}, io.Discard)
	got := errorKeys(err)
	want := []string{"model_wait", "base_path", "log.level"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
}

func TestLoadWarnsAboutUnknownEnvironmentVariables(t *testing.T) {
	inTempDir(t)
	var out strings.Builder
	cfg, err := Load(nil, []string{"PARTFLOW_LOG_LEVEL=debug"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Log.Level != "info" {
		t.Errorf("Log.Level = %q, want the default info", cfg.Log.Level)
	}
	if !strings.Contains(out.String(), "PARTFLOW_LOG__LEVEL") {
		t.Errorf("warning %q does not suggest PARTFLOW_LOG__LEVEL", out.String())
	}
}

func TestLoadJSONFileAndParsedValues(t *testing.T) {
	dir := inTempDir(t)
	static := filepath.Join(dir, "dist")
	if err := os.Mkdir(static, 0o755); err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, dir, "p.json", `{
  "static_dir": "dist",
  "trusted_proxies": ["10.0.0.0/8", "::1", "192.168.1.7"],
  "max_body_bytes": 2048,
  "plugins": [{"name": "cascadio", "command": ["python3", "plugin.py"], "formats": [".STEP"],
               "memory_limit": "1GiB", "options": {"linear_tolerance": "0.1"}}],
  "model_wait": "1m"
}`)
	cfg := mustLoad(t, []string{"--config", file}, nil)
	if cfg.StaticDir != static {
		t.Errorf("StaticDir = %q, want %q", cfg.StaticDir, static)
	}
	wantProxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("192.168.1.7/32")}
	if diff := cmp.Diff(wantProxies, cfg.TrustedProxyPrefixes(), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("proxies (-want +got):\n%s", diff)
	}
	wantPlugins := []PluginConfig{{
		Name: "cascadio", Command: []string{"python3", "plugin.py"}, Formats: []string{"step"},
		PoolSize: defaultPluginPoolSize, Timeout: defaultPluginTimeout, MemoryLimit: 1 << 30,
		Options: map[string]string{"linear_tolerance": "0.1"},
	}}
	if diff := cmp.Diff(wantPlugins, cfg.Plugins); diff != "" {
		t.Errorf("plugins (-want +got):\n%s", diff)
	}
	if cfg.MaxBodyBytes != 2048 || cfg.ModelWait != time.Minute {
		t.Errorf("MaxBodyBytes, ModelWait = %d, %s; want 2048, 1m", cfg.MaxBodyBytes, cfg.ModelWait)
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
	}{
		{"0", 0}, {"1048576", 1 << 20}, {"1KB", 1000}, {"1KiB", 1024}, {"1k", 1024},
		{"200MiB", 200 << 20}, {"200 MB", 200e6}, {"1.5GiB", 3 << 29}, {"2g", 2 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseByteSize(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "MiB", "-1", "1QB", "1.2.3MB", "99999999999999999999", "9999999999GiB"} {
		t.Run("rejects "+bad, func(t *testing.T) {
			if got, err := ParseByteSize(bad); err == nil {
				t.Errorf("ParseByteSize(%q) = %d, want an error", bad, got)
			}
		})
	}
}

func TestLoadWorkflow(t *testing.T) {
	inTempDir(t)
	if got := mustLoad(t, nil, nil).Workflow; got != "original" {
		t.Errorf("default workflow %q, want original", got)
	}
	file := writeFile(t, t.TempDir(), "c.yaml", "workflow: Strict\n")
	if got := mustLoad(t, []string{"--config", file}, nil).Workflow; got != "strict" {
		t.Errorf("workflow from file %q, want strict", got)
	}
	if got := mustLoad(t, []string{"--workflow", "strict"}, nil).Workflow; got != "strict" {
		t.Errorf("workflow from flag %q, want strict", got)
	}
}
