package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/partflow/partflow/internal/config"
)

// TestConfigShowsTheGeneratedKeyFile: with no key configured, config names
// the key serve will use: the generated key file, masked, or where serve
// will create it.
func TestConfigShowsTheGeneratedKeyFile(t *testing.T) {
	dir := inTempDir(t)
	path := filepath.Join(dir, "data", config.APIKeyFile)
	_, out, _ := runCmd(t, []string{"config"}, nil, "")
	if !strings.Contains(out, "serve will generate one and store it in "+path) {
		t.Errorf("before the first start, config does not say where the key will be:\n%s", out)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	key := "generated-key-0123456789abcdefghijklmnop"
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, out, _ = runCmd(t, []string{"config"}, nil, "")
	if !strings.Contains(out, "(generated key file "+path+")") || !strings.Contains(out, config.MaskSecret(key)) {
		t.Errorf("config does not show the generated key file as the key's source:\n%s", out)
	}
	if strings.Contains(out, key) {
		t.Errorf("config printed the key itself:\n%s", out)
	}
}

// TestConfigShowsTheDefaultPlugin: with no plugins configured, config lists
// the cascadio plugin serve starts when make venv has set it up, and says
// conversion is off when it has not.
func TestConfigShowsTheDefaultPlugin(t *testing.T) {
	dir := inTempDir(t)
	_, out, _ := runCmd(t, []string{"config"}, nil, "")
	if !strings.Contains(out, "STEP conversion is off: the cascadio plugin is not set up (run make venv)") {
		t.Errorf("without the venv, config does not say conversion is off:\n%s", out)
	}
	py := filepath.Join(dir, "plugins", "cascadio", ".venv", "bin", "python")
	if err := os.MkdirAll(filepath.Dir(py), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(py, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, out, _ = runCmd(t, []string{"config"}, nil, "")
	if !strings.Contains(out, "plugins[0]") || !strings.Contains(out, "name=cascadio command=["+py+", -m, partflow_cascadio]") ||
		!strings.Contains(out, "(default: the cascadio plugin make venv set up)") {
		t.Errorf("config does not list the default cascadio plugin:\n%s", out)
	}
}

// brokenPluginConfig writes a config whose plugin prints to stderr and
// exits before the handshake.
func brokenPluginConfig(t *testing.T, dir string) string {
	return writeFile(t, dir, "c.yaml", `
plugins:
  - name: broken
    command: [/bin/sh, -c, "echo 'cannot import cascadio: no such module' >&2; exit 3"]
    formats: [step]
`)
}

// TestPluginsShowsWhyAPluginIsNotRunning: its start error and stderr tail,
// not a pointer to a debug flag.
func TestPluginsShowsWhyAPluginIsNotRunning(t *testing.T) {
	dir := inTempDir(t)
	code, out, _ := runCmd(t, []string{"plugins", "--config", brokenPluginConfig(t, dir)}, nil, "")
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	want := "health: NOT RUNNING: handshake: it wrote no handshake line on stdout (it exited or failed before serving); " +
		"stderr: cannot import cascadio: no such module"
	if !strings.Contains(out, want) {
		t.Errorf("plugins output lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "--log-level debug") {
		t.Errorf("plugins still points at a debug flag:\n%s", out)
	}
}

// TestConvertNamesAPluginThatFailedToStart: not "unsupported format".
func TestConvertNamesAPluginThatFailedToStart(t *testing.T) {
	dir := inTempDir(t)
	in := writeFile(t, dir, "a.step", "ISO-10303-21;\n")
	code, _, errOut := runCmd(t, []string{"convert", "--config", brokenPluginConfig(t, dir), in, filepath.Join(dir, "a.glb")}, nil, "")
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	if !strings.Contains(errOut, "convert: plugin broken failed to start: handshake: it wrote no handshake line") ||
		!strings.Contains(errOut, "cannot import cascadio") || strings.Contains(errOut, "unsupported format") {
		t.Errorf("convert does not say the plugin failed to start:\n%s", errOut)
	}
}

// TestInitPluginTemplateMatchesTheDefault uncomments the plugins block that
// init writes and checks it loads, validates and starts the same program as
// serve's default cascadio entry.
func TestInitPluginTemplateMatchesTheDefault(t *testing.T) {
	dir := inTempDir(t)
	py := filepath.Join(dir, "plugins", "cascadio", ".venv", "bin", "python")
	if err := os.MkdirAll(filepath.Dir(py), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(py, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCmd(t, []string{"init", "--env", "development"}, nil, ""); code != exitOK {
		t.Fatalf("init: %d %s", code, errOut)
	}
	b, err := os.ReadFile(filepath.Join(dir, "partflow.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for line := range strings.SplitSeq(string(b), "\n") {
		switch {
		case line == "# plugins:":
			in = true
		case in && !strings.HasPrefix(line, "#   "):
			in = false
		}
		if in {
			line = strings.TrimPrefix(line, "# ")
		}
		out = append(out, line)
	}
	file := writeFile(t, dir, "uncommented.yaml", strings.Join(out, "\n"))
	cfg := mustLoad(t, []string{"--config", file}, nil)
	if len(cfg.Plugins) != 1 {
		t.Fatalf("plugins = %+v, want the cascadio entry", cfg.Plugins)
	}
	got := cfg.Plugins[0]
	def := pluginConfigs(&config.Config{}, nil)
	if len(def) != 1 || strings.Join(got.Command, " ") != strings.Join(def[0].Command, " ") ||
		strings.Join(got.Formats, ",") != strings.Join(def[0].Formats, ",") {
		t.Errorf("template entry %+v differs from the default %+v", got, def)
	}
	if got.Env["OMP_NUM_THREADS"] != "1" || got.Options["linear_tolerance"] != "0.01" {
		t.Errorf("template env/options not loaded: %+v", got)
	}
}

// TestPluginEnvReachesThePluginAndIsMasked: a plugin's env is set in its
// process and partflow config shows only the names.
func TestPluginEnvReachesThePluginAndIsMasked(t *testing.T) {
	dir := inTempDir(t)
	file := writeFile(t, dir, "c.yaml", `
plugins:
  - name: needs-secret
    command: [/bin/sh, -c, "echo \"token is $CONVERTER_TOKEN, home is $HOME\" >&2; exit 3"]
    formats: [step]
    env: {CONVERTER_TOKEN: s3cret-value-123}
`)
	_, out, _ := runCmd(t, []string{"plugins", "--config", file}, []string{"HOME=/home/x"}, "")
	if !strings.Contains(out, "token is s3cret-value-123") {
		t.Errorf("the plugin did not get its env:\n%s", out)
	}
	_, out, _ = runCmd(t, []string{"config", "--config", file}, nil, "")
	if !strings.Contains(out, "env=[CONVERTER_TOKEN=****]") || strings.Contains(out, "s3cret") {
		t.Errorf("config does not mask the plugin env:\n%s", out)
	}
	bad := writeFile(t, dir, "bad.yaml", "plugins:\n  - {name: p, command: [x], formats: [step], env: {PARTFLOW_CONVERTER_PLUGIN: x, \"1BAD\": y}}\n")
	code, _, errOut := runCmd(t, []string{"config", "--config", bad}, nil, "")
	if code == exitOK || !strings.Contains(errOut, "plugins[0].env") || !strings.Contains(errOut, "set by the plugin handshake") ||
		!strings.Contains(errOut, `invalid variable name "1BAD"`) {
		t.Errorf("bad env names: exit %d %s", code, errOut)
	}
}
