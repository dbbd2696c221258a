package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/partflow/partflow/internal/config"
)

// runCmd runs the command line and returns exit code, stdout and stderr.
func runCmd(t *testing.T, args, environ []string, stdin string) (int, string, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	code := run(context.Background(), args, environ, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// fakeWork records what serve and migrate were given instead of running
// a server or touching a database.
type fakeWork struct {
	served, migrated *config.Config
	err              error // returned by both
}

// runFake runs the command line with serve and migrate replaced by f.
func runFake(t *testing.T, args, environ []string, f *fakeWork) (int, string, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	c := newCLI(environ, strings.NewReader(""), &stdout, &stderr)
	c.serveFunc = func(_ context.Context, cfg *config.Config, _, _ io.Writer) error { f.served = cfg; return f.err }
	c.migrateFunc = func(_ context.Context, cfg *config.Config, _ io.Writer) error { f.migrated = cfg; return f.err }
	code := c.run(context.Background(), args)
	return code, stdout.String(), stderr.String()
}

func TestConfigCommandShowsSourcesAndMasksSecrets(t *testing.T) {
	dir := inTempDir(t)
	const namedKey = "named-key-0123456789-abcdefghij"
	file := writeFile(t, dir, "p.yaml", `
log: {level: debug}
api_keys:
  - {name: ci, key: `+namedKey+`, role: read-only}
`)
	environ := []string{
		"SECRET_KEY=" + strongKey,
		"DATABASE_URL=postgres://parts:hunter2-db-pass@db:5432/parts?sslmode=disable",
		"PORT=8080",
	}
	code, out, errOut := runCmd(t, []string{"config", "--config", file, "--max-file-size", "10MiB"}, environ, "")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	wantLines := []string{
		`env += development  \(default\)`,
		`addr += 127\.0\.0\.1:8080  \(env PORT\)`,
		`database_url += postgres://parts:\*\*\*\*@db:5432/parts\?sslmode=disable  \(env DATABASE_URL\)`,
		`api_key += Zq…\(32 chars\)  \(env SECRET_KEY\)`,
		`api_keys\[0\] += name="ci" role=read-only key=na…\(31 chars\)  \(file ` + regexp.QuoteMeta(file) + `\)`,
		`log\.level += debug  \(file ` + regexp.QuoteMeta(file) + `\)`,
		`log\.format += text  \(profile development\)`,
		`max_file_size += 10MiB  \(flag --max-file-size\)`,
		`max_body_bytes += 1MiB  \(default\)`,
	}
	for _, re := range wantLines {
		if !regexp.MustCompile(`(?m)^` + re + `$`).MatchString(out) {
			t.Errorf("output has no line matching %q:\n%s", re, out)
		}
	}
	for _, secret := range []string{strongKey, namedKey, "hunter2-db-pass"} {
		if strings.Contains(out+errOut, secret) {
			t.Errorf("output shows the secret %q:\n%s", secret, out)
		}
	}
}

func TestConfigCommandJSONLines(t *testing.T) {
	inTempDir(t)
	code, out, errOut := runCmd(t, []string{"config", "--json"}, []string{"SECRET_KEY=" + strongKey}, "")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	got := map[string]config.Entry{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e config.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got[e.Key] = e
	}
	if e := got["api_key"]; e.Value != "Zq…(32 chars)" || e.Source != "env SECRET_KEY" {
		t.Errorf("api_key entry = %+v", e)
	}
	if e := got["database_url"]; !strings.HasPrefix(e.Resolved, "sqlite:///") {
		t.Errorf("database_url entry = %+v, want a resolved sqlite DSN", e)
	}
}

func TestConfigCommandListsEachProfile(t *testing.T) {
	inTempDir(t)
	tests := []struct {
		profile string
		lines   []string
	}{
		{"development", []string{`addr += 127\.0\.0\.1:5000  \(profile development\)`, `allow_query_api_key += true  \(profile development\)`, `log\.format += text  \(profile development\)`}},
		{"testing", []string{`database_url += sqlite://:memory:  \(profile testing\)`, `files_url += mem://  \(profile testing\)`}},
		{"production", []string{`addr += :5000  \(profile production\)`, `allow_query_api_key += false  \(profile production\)`, `log\.format += json  \(profile production\)`, `env += production  \(flag --env\)`}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			code, out, _ := runCmd(t, []string{"config", "--env", tt.profile}, nil, "")
			if code != exitOK {
				t.Fatalf("exit %d", code)
			}
			for _, re := range tt.lines {
				if !regexp.MustCompile(`(?m)^` + re + `$`).MatchString(out) {
					t.Errorf("no line matching %q:\n%s", re, out)
				}
			}
		})
	}
	t.Run("check fails when serve would refuse", func(t *testing.T) {
		code, _, errOut := runCmd(t, []string{"config", "--env", "production", "--check"}, nil, "")
		if code != exitError || !strings.Contains(errOut, "api_key") || !strings.Contains(errOut, "database_url") {
			t.Errorf("exit %d, stderr %q; want 1 naming api_key and database_url", code, errOut)
		}
	})
}

func TestInitWritesAFileThatLoadsBack(t *testing.T) {
	dir := inTempDir(t)
	code, out, errOut := runCmd(t, []string{"init"}, nil, "")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	path := filepath.Join(dir, "partflow.yaml")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	cfg := mustLoad(t, []string{"--config", path}, nil)
	if cfg.Env != config.ProfileProduction || cfg.Addr != ":5000" || cfg.DatabaseDSN() != "sqlite://"+dir+"/data/partflow.db" || cfg.FilesDSN() != "file://"+dir+"/data/files" {
		t.Errorf("loaded env=%s addr=%s dsn=%s files=%s", cfg.Env, cfg.Addr, cfg.DatabaseDSN(), cfg.FilesDSN())
	}
	if len(cfg.APIKey) != 43 || cfg.Source("api_key").Layer != config.LayerFile {
		t.Errorf("api_key has %d chars from %v, want a generated 43-char key from the file", len(cfg.APIKey), cfg.Source("api_key"))
	}
	if err := cfg.CheckStartup(true); err != nil {
		t.Errorf("production refuses the generated file: %v", err)
	}
	if strings.Contains(out, cfg.APIKey) {
		t.Errorf("init printed the key: %q", out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "# ") {
		t.Error("file has no comments")
	}
}

func TestInitRefusesToOverwriteWithoutForce(t *testing.T) {
	dir := inTempDir(t)
	path := writeFile(t, dir, "partflow.yaml", "addr: :1234\n")
	code, _, errOut := runCmd(t, []string{"init"}, nil, "")
	if code != exitError || !strings.Contains(errOut, "--force") {
		t.Errorf("exit %d, stderr %q; want 1 and a hint about --force", code, errOut)
	}
	if b, _ := os.ReadFile(path); string(b) != "addr: :1234\n" {
		t.Errorf("file changed to %q", b)
	}

	code, _, errOut = runCmd(t, []string{"init", "--force", "--env", "development"}, nil, "")
	if code != exitOK {
		t.Fatalf("with --force: exit %d, stderr %q", code, errOut)
	}
	cfg := mustLoad(t, []string{"--config", path}, nil)
	if cfg.Env != config.ProfileDevelopment || cfg.Addr != "127.0.0.1:5000" || len(cfg.APIKey) != 43 {
		t.Errorf("replaced file loads env=%s addr=%s key length %d", cfg.Env, cfg.Addr, len(cfg.APIKey))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after --force = %v (%v), want 0600", fi.Mode().Perm(), err)
	}
}

func TestInitFlagsAndPrompts(t *testing.T) {
	dir := inTempDir(t)
	tests := []struct {
		name      string
		args      []string
		stdin     string
		wantCode  int
		wantEnv   string
		wantAddr  string
		wantDSN   string
		wantFiles string
	}{
		{"flags without a terminal", []string{"--addr", "0.0.0.0:8000", "--database-url", "sqlite:////srv/p.db", "--files-url", "/srv/files"}, "",
			exitOK, config.ProfileProduction, "0.0.0.0:8000", "sqlite:///srv/p.db", "file:///srv/files"},
		{"prompts keep offered values on empty lines", []string{"--interactive"}, "\n\n\n\n",
			exitOK, config.ProfileProduction, ":5000", "sqlite://" + dir + "/data/partflow.db", "file://" + dir + "/data/files"},
		{"prompts take answers and ask again after a bad one", []string{"--interactive"}, "development\n\nsqlite:////var/p.db\nftp://nope\n./uploads\n",
			exitOK, config.ProfileDevelopment, "127.0.0.1:5000", "sqlite:///var/p.db", "file://" + dir + "/uploads"},
		{"prompts keep offered values at end of input", []string{"--interactive", "--env", "testing"}, "",
			exitOK, config.ProfileTesting, "127.0.0.1:5000", "sqlite://" + dir + "/data/partflow.db", "file://" + dir + "/data/files"},
		{"prompts give up after three bad answers", []string{"--interactive"}, "staging\nstaging\nstaging\n", exitUsage, "", "", "", ""},
		{"bad flag value", []string{"--addr", "nope"}, "", exitUsage, "", "", "", ""},
		{"unknown profile flag", []string{"--env", "staging"}, "", exitUsage, "", "", "", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "c"+string(rune('a'+i))+".yaml")
			code, _, errOut := runCmd(t, append([]string{"init", "--path", path}, tt.args...), nil, tt.stdin)
			if code != tt.wantCode {
				t.Fatalf("exit %d, stderr %q; want %d", code, errOut, tt.wantCode)
			}
			if tt.wantCode != exitOK {
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Errorf("file written (%v) despite the error", err)
				}
				return
			}
			cfg := mustLoad(t, []string{"--config", path}, nil)
			if cfg.Env != tt.wantEnv || cfg.Addr != tt.wantAddr || cfg.DatabaseDSN() != tt.wantDSN || cfg.FilesDSN() != tt.wantFiles {
				t.Errorf("got %s %s %s %s; want %s %s %s %s", cfg.Env, cfg.Addr, cfg.DatabaseDSN(), cfg.FilesDSN(),
					tt.wantEnv, tt.wantAddr, tt.wantDSN, tt.wantFiles)
			}
		})
	}
}

func TestRunDispatch(t *testing.T) {
	inTempDir(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		stdout   string
		stderr   string
	}{
		{"help lists the commands", []string{"help"}, exitOK, "migrate", ""},
		{"-h lists the commands", []string{"-h"}, exitOK, "config", ""},
		{"version prints the Go version", []string{"version"}, exitOK, "partflow dev (" + runtime.Version(), ""},
		{"command help lists flags", []string{"serve", "-h"}, exitOK, "--database-url", ""},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"unknown flag", []string{"config", "--nope"}, exitUsage, "", "--nope"},
		{"stray argument", []string{"config", "extra"}, exitUsage, "", `unexpected argument "extra"`},
		{"invalid configuration exits 2", []string{"serve", "--log-level", "loud"}, exitUsage, "", "log.level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args, nil, "")
			if code != tt.wantCode || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out, errOut, tt.wantCode, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestServeAndMigrateGetTheCheckedConfig(t *testing.T) {
	inTempDir(t)
	tests := []struct {
		name         string
		args         []string
		err          error
		wantCode     int
		wantServed   bool
		wantMigrated bool
		wantStderr   string
	}{
		{"serve is the default command", []string{"--env", "testing", "--addr", "127.0.0.1:0"}, nil, exitOK, true, false, ""},
		{"serve by name", []string{"serve", "--env", "testing"}, nil, exitOK, true, false, ""},
		{"migrate by name", []string{"migrate", "--env", "testing"}, nil, exitOK, false, true, ""},
		{"serve failure exits 1", []string{"serve", "--env", "testing"}, errors.New("listen: address in use"), exitError, true, false, "address in use"},
		{"invalid configuration never reaches serve", []string{"--base-path", "x"}, nil, exitUsage, false, false, "base_path"},
		{"production refusal never reaches serve", []string{"--env", "production"}, nil, exitUsage, false, false, "api_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeWork{err: tt.err}
			code, _, errOut := runFake(t, tt.args, nil, f)
			if code != tt.wantCode || (f.served != nil) != tt.wantServed || (f.migrated != nil) != tt.wantMigrated || !strings.Contains(errOut, tt.wantStderr) {
				t.Errorf("exit %d, served %t, migrated %t, stderr %q; want %d, %t, %t, %q",
					code, f.served != nil, f.migrated != nil, errOut, tt.wantCode, tt.wantServed, tt.wantMigrated, tt.wantStderr)
			}
			if f.served != nil && f.served.APIKey == "" {
				t.Error("serve got no API key")
			}
		})
	}
}
