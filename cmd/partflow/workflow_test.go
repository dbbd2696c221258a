package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/partflow/partflow/internal/fixtures"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage"
)

// inspectionYAML defines a custom workflow with an inspection stage and
// selects it.
const inspectionYAML = fixtures.InspectionWorkflowYAML

// TestServeRefusesAWorkflowThatStrandsParts: a database with a part in
// inspection does not start under a workflow without that stage; partflow
// config shows the configured workflow's stages.
func TestServeRefusesAWorkflowThatStrandsParts(t *testing.T) {
	dir := t.TempDir()
	cfgFile := writeFile(t, dir, "c.yaml", inspectionYAML+"database_url: sqlite:///"+filepath.Join(dir, "parts.db")+
		"\nfiles_url: file://"+filepath.Join(dir, "files")+"\nplugins: []\n")
	cfg := mustLoad(t, []string{"--config", cfgFile}, nil)
	if !strings.HasPrefix(cfg.DatabaseDSN(), "sqlite://"+dir) {
		t.Fatalf("database %s is not in the test's directory", cfg.DatabaseDSN())
	}
	store, err := storage.Open(t.Context(), cfg.DatabaseDSN(), nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := parts.NewService(store, &parts.Options{Workflow: cfg.WorkflowValue()})
	for i, c := range []parts.Category{"inspection", "inspection", parts.CategoryCNC} {
		if _, err := svc.ImportPart(t.Context(), &parts.Part{ID: int64(i + 1), PartID: "P", Material: "m", Subsystem: "s", Category: c}, "t"); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()

	out, code := runCLI(t, nil, "config", "--config", cfgFile)
	if code != 0 || !strings.Contains(out, "inspection (stages [review, cnc, hand, inspection, completed]; new parts in review, done in completed)") {
		t.Errorf("partflow config: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, nil, "serve", "--config", cfgFile, "--workflow", "strict", "--addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(out, `workflow "strict" would strand parts in stages it does not have: 2 in "inspection"`) {
		t.Errorf("serve under strict: exit %d, want a refusal naming 2 parts in inspection\n%s", code, out)
	}
}
