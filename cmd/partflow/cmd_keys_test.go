package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestKeysCommand: create prints the secret once, list shows the key
// without it, rotate prints a new one, revoke marks it revoked.
func TestKeysCommand(t *testing.T) {
	dir := t.TempDir()
	env := []string{"PARTFLOW_DATABASE_URL=sqlite:///" + dir + "/parts.db", "PARTFLOW_FILES_URL=file://" + dir + "/files"}
	out, code := runCLI(t, env, "keys", "create", "ada", "--role", "editor", "--roles", "qa", "--expires", "24h")
	secret := regexp.MustCompile(`pfk_[a-z2-7]+`).FindString(out)
	if code != 0 || secret == "" || !strings.Contains(out, "key 1 ada (editor)") {
		t.Fatalf("create: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, env, "keys", "list")
	if code != 0 || strings.Contains(out, secret) || !strings.Contains(out, "1  ada  editor  roles=[qa]  "+secret[:12]+"...") ||
		!strings.Contains(out, "active") {
		t.Errorf("list: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, env, "keys", "rotate", "1")
	if rotated := regexp.MustCompile(`pfk_[a-z2-7]+`).FindString(out); code != 0 || rotated == "" || rotated == secret {
		t.Errorf("rotate: exit %d\n%s", code, out)
	}
	if out, code = runCLI(t, env, "keys", "revoke", "1"); code != 0 || !strings.Contains(out, "revoked key 1") {
		t.Errorf("revoke: exit %d\n%s", code, out)
	}
	if out, _ = runCLI(t, env, "keys", "list"); !strings.Contains(out, "revoked ") {
		t.Errorf("list after revoke:\n%s", out)
	}
	for _, bad := range [][]string{{"keys"}, {"keys", "create"}, {"keys", "rotate", "x"}, {"keys", "paint"}, {"keys", "create", "bob", "--role", "root"}} {
		if _, code := runCLI(t, env, bad...); code == 0 {
			t.Errorf("%q succeeded", bad)
		}
	}
}
