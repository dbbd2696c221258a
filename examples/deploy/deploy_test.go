// Package deploy_test checks the deployment files in examples/deploy.
package deploy_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireSystemdEnv, set to 1 (as .ci/run does), makes a missing
// systemd-analyze a failure instead of a skip.
const requireSystemdEnv = "PARTFLOW_REQUIRE_SYSTEMD"

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit, with
// ExecStart pointed at an executable that exists here, and fails on any
// warning (systemd-analyze exits 0 for ignored directives, so stderr counts).
// Without systemd-analyze (not a prerequisite of make test) it is skipped,
// except in CI, which installs it (make ci-deps) and requires it.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv(requireSystemdEnv) == "1" {
			t.Fatalf("systemd-analyze is missing and %s=1 requires it: install Debian's systemd package (make ci-deps)", requireSystemdEnv)
		}
		t.Skip("systemd-analyze is not installed (optional; CI installs it with make ci-deps and requires it)")
	}
	unit, err := os.ReadFile("partflow.service")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(unit), "/usr/local/bin/partflow", self, 1)
	if text == string(unit) {
		t.Fatal("unit has no ExecStart=/usr/local/bin/partflow")
	}
	path := filepath.Join(t.TempDir(), "partflow.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(analyze, "verify", path)
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil || strings.TrimSpace(stderr.String()) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, stderr.String())
	}
}

// TestSystemdUnitIsHardened checks the settings the deployment guide promises.
func TestSystemdUnitIsHardened(t *testing.T) {
	unit, err := os.ReadFile("partflow.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"User=partflow", "ProtectSystem=strict", "ReadWritePaths=/var/lib/partflow",
		"Restart=on-failure", "NoNewPrivileges=yes", "Environment=PARTFLOW_ENV=production",
	} {
		if !bytes.Contains(unit, []byte("\n"+want+"\n")) {
			t.Errorf("unit lacks %q", want)
		}
	}
}
