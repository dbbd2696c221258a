package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestStoredKeysOverHTTP: an admin creates a per-person key (shown once),
// the key authenticates as its person with its role, lists never show
// secrets, rotation and revocation take effect at once, and only admin keys
// manage keys.
func TestStoredKeysOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	with := func(key string) map[string]string { return map[string]string{"X-API-Key": key} }
	created := e.must(http.StatusCreated, req{method: "POST", path: "/api/keys",
		body: map[string]any{"name": "ada", "role": "editor", "roles": []string{"qa"}}})
	secret, _ := created["key"].(string)
	if !strings.HasPrefix(secret, "pfk_") || created["name"] != "ada" {
		t.Fatalf("created = %v", created)
	}
	keyPath := "/api/keys/" + jsonInt(created["id"])

	p := e.must(http.StatusCreated, req{method: "POST", path: "/api/parts/", header: with(secret),
		body: map[string]any{"partId": "P-1", "material": "Al", "subsystem": "Drive"}})
	hist := e.must(http.StatusOK, req{method: "GET", path: partPath(p, "/history"), header: with(secret)})
	if ev := hist["events"].([]any)[0].(map[string]any); ev["actor"] != "ada" {
		t.Errorf("actor = %v, want ada", ev["actor"])
	}
	wantError(t, e.do(req{method: "GET", path: "/api/keys", header: with(secret)}), http.StatusForbidden, "This needs an admin API key", "")
	wantError(t, e.do(req{method: "GET", path: "/api/keys", header: with(editorKey)}), http.StatusForbidden, "This needs an admin API key", "")

	list := e.do(req{method: "GET", path: "/api/keys"})
	if list.status != http.StatusOK || strings.Contains(string(list.body), secret) || strings.Contains(string(list.body), `"key"`) {
		t.Errorf("list shows a secret: %s", list.body)
	}
	if !strings.Contains(string(list.body), `"lastUsedAt":"`) {
		t.Errorf("list has no last-used time after use: %s", list.body)
	}

	rotated := e.must(http.StatusOK, req{method: "POST", path: keyPath + "/rotate"})
	newSecret, _ := rotated["key"].(string)
	wantError(t, e.do(req{method: "GET", path: "/api/parts/", header: with(secret)}), http.StatusUnauthorized, "Invalid API key", "")
	e.must(http.StatusOK, req{method: "GET", path: "/api/parts/", header: with(newSecret)})

	e.must(http.StatusOK, req{method: "DELETE", path: keyPath})
	wantError(t, e.do(req{method: "GET", path: "/api/parts/", header: with(newSecret)}), http.StatusUnauthorized, "Invalid API key", "")
	wantError(t, e.do(req{method: "DELETE", path: "/api/keys/999"}), http.StatusNotFound, "Key not found", "")
	wantError(t, e.do(req{method: "POST", path: "/api/keys", body: map[string]any{"name": "x", "role": "root"}}), http.StatusBadRequest, "", "role")
}
