package config

import (
	"strings"
	"testing"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/internal/fixtures"
	"github.com/partflow/partflow/parts"
)

// inspectionYAML defines a custom workflow with an inspection stage and
// selects it.
const inspectionYAML = fixtures.InspectionWorkflowYAML

func TestConfigCustomWorkflow(t *testing.T) {
	cfg := mustLoad(t, []string{"--config", writeFile(t, t.TempDir(), "c.yaml", inspectionYAML)}, nil)
	w := cfg.WorkflowValue()
	if w.Name() != "inspection" || !w.HasStage("inspection") || w.Done() != parts.CategoryCompleted {
		t.Fatalf("workflow %s stages %v", w.Name(), w.Stages())
	}
	p := &parts.Part{Type: parts.TypeHand, Category: parts.CategoryHand, Status: parts.StatusInProgress}
	next, _, err := w.Apply(p, parts.ActionComplete, parts.ActionInput{}, p.UpdatedAt)
	if err != nil || next.Category != "inspection" || next.Status != parts.StatusPending {
		t.Errorf("complete from hand = %+v, %v", next, err)
	}
}

func TestConfigWorkflowErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, key, msg string }{
		{"unreachable stage", strings.Replace(inspectionYAML, "completed]", "completed, paint]", 1),
			"workflows[0]", `stage "paint" is unreachable`},
		{"unknown action", strings.Replace(inspectionYAML, "action: revert", "action: paint", 1),
			"workflows[0]", `rule 6 (paint): unknown action "paint"`},
		{"built-in name", strings.Replace(inspectionYAML, "name: inspection", "name: strict", 1),
			"workflows[0].name", `workflow name "strict" is empty, built in or used twice`},
		{"unknown name", strings.Replace(inspectionYAML, "workflow: inspection", "workflow: paint", 1),
			"workflow", `unknown workflow "paint" (want original, strict or inspection)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]string{"--config", writeFile(t, t.TempDir(), "c.yaml", tc.yaml)}, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(strings.Join(errorKeys(err), " "), tc.key) {
				t.Errorf("err = %v (keys %q), want %s: %s", err, errorKeys(err), tc.key, tc.msg)
			}
		})
	}
}

const policyYAML = `api_keys:
  - {name: ada, key: ada-key-0123456789abcdef, role: editor}
  - {name: quinn, key: quinn-key-0123456789abcdef, role: editor, roles: [qa]}
policy:
  - {operation: complete, from: [inspection], roles: [qa]}
  - {operation: revert, roles: [lead]}
`

func TestConfigPolicy(t *testing.T) {
	cfg := mustLoad(t, []string{"--config", writeFile(t, t.TempDir(), "c.yaml", inspectionYAML+policyYAML)}, nil)
	keys, err := cfg.HTTPKeys()
	if err != nil {
		t.Fatal(err)
	}
	pol := cfg.HTTPPolicy()
	inInspection := &parts.Part{Category: "inspection"}
	for _, tc := range []struct {
		key   int
		op    httpapi.Operation
		part  *parts.Part
		allow bool
	}{
		{0, "complete", inInspection, false},
		{1, "complete", inInspection, true},
		{0, "complete", &parts.Part{Category: parts.CategoryCNC}, true},
		{1, "revert", inInspection, false},
		{0, httpapi.OpWrite, nil, true},
	} {
		k := keys[tc.key]
		p := httpapi.Principal{Name: k.Name, Roles: append([]string{k.Role.String()}, k.Roles...)}
		if err := pol.Authorize(t.Context(), p, tc.op, tc.part); (err == nil) != tc.allow {
			t.Errorf("%s %s: err = %v, want allowed=%v", k.Name, tc.op, err, tc.allow)
		}
	}
	for _, bad := range []struct{ yaml, key, msg string }{
		{"policy:\n  - {operation: paint, roles: [qa]}\n", "policy", `unknown operation "paint"`},
		{"policy:\n  - {operation: complete, from: [paint], roles: [qa]}\n", "policy[0].from", `unknown stage "paint"`},
		{"policy:\n  - {operation: complete}\n", "policy", "no roles"},
	} {
		_, err := Load([]string{"--config", writeFile(t, t.TempDir(), "c.yaml", bad.yaml)}, nil, nil)
		if err == nil || !strings.Contains(err.Error(), bad.msg) || !strings.Contains(strings.Join(errorKeys(err), " "), bad.key) {
			t.Errorf("%q: err = %v", bad.yaml, err)
		}
	}
}
