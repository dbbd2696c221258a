package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestServePolicyAndWorkflowFromConfig runs the real binary with a config
// file naming keys with extra roles, a custom workflow and a policy: the
// policy refuses completing from inspection to a key without the qa role
// (403 naming the rule) and lets the qa key do it, and the history records
// each key's name as the actor.
func TestServePolicyAndWorkflowFromConfig(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	const qaKey, edKey = "quinn-0123456789abcdef0123456789", "eddie-0123456789abcdef0123456789"
	cfg := inspectionYAML + `api_keys:
  - {name: quinn, key: ` + qaKey + `, role: editor, roles: [qa]}
  - {name: eddie, key: ` + edKey + `, role: editor}
policy:
  - {operation: complete, from: [inspection], roles: [qa]}
plugins: []
`
	path := writeFile(t, dir, "partflow.yaml", cfg)
	s := startServer(t, bin, dir, []string{"PARTFLOW_ENV=development", "PARTFLOW_CONFIG=" + filepath.Base(path)})
	base := s.url + "/api/parts"

	p := call(t, "POST", base+"/", edKey, map[string]any{"partId": "POL-1", "name": "Plate", "type": "hand",
		"material": "6061", "subsystem": "Drive", "amount": 1}, 201)
	id := fmt.Sprintf("%s/%d", base, int(p["id"].(float64)))
	call(t, "POST", id+"/approve", edKey, map[string]any{"reviewer": "Rita"}, 200)
	call(t, "POST", id+"/assign", edKey, map[string]any{"assigned": "Ada"}, 200)
	if got := call(t, "POST", id+"/complete", edKey, nil, 200); got["category"] != "inspection" {
		t.Fatalf("complete from hand went to %v, want inspection (the custom workflow)", got["category"])
	}
	refused := call(t, "POST", id+"/complete", edKey, nil, 403)
	if msg, _ := refused["error"].(string); !strings.Contains(msg, "qa") {
		t.Errorf("403 does not name the rule's role: %v", refused)
	}
	if got := call(t, "POST", id+"/complete", qaKey, nil, 200); got["category"] != "completed" {
		t.Fatalf("qa's complete from inspection went to %v, want completed", got["category"])
	}
	hist := call(t, "GET", id+"/history", qaKey, nil, 200)
	var who []string
	for _, ev := range hist["events"].([]any) {
		who = append(who, ev.(map[string]any)["actor"].(string))
	}
	text := strings.Join(who, ",")
	if !strings.Contains(text, "eddie") || !strings.Contains(text, "quinn") {
		t.Errorf("history actors %q, want eddie and quinn", text)
	}
	s.stop(t)
}
