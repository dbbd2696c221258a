package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplicasConfigLoads runs `partflow config` on the replicas' shared
// configuration with the per-replica environment the README describes: it
// must load and validate under the production profile.
func TestReplicasConfigLoads(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "partflow")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/partflow")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	cmd := exec.Command(bin, "config", "--config", "replicas/partflow.yaml")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"PARTFLOW_API_KEY=Xk3v9QpL2mN8rT5wY7zB4cF6hJ1dG0sA", "PARTFLOW_REPLICA_ID=web-2"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("partflow config: %v\n%s", err, out)
	}
	for _, want := range []string{"replica_id               = web-2", "env                      = production",
		"metrics_addr             = 0.0.0.0:9100", "convert.lease            = 30s"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("config output lacks %q:\n%s", want, out)
		}
	}
}
