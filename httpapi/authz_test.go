package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/parts/partstest"
)

// shopPolicy: only qa completes from inspection, only lead approves or reverts.
var shopPolicy = httpapi.RolePolicy{Rules: []httpapi.RoleRule{
	{Operation: "complete", From: []parts.Category{"inspection"}, Roles: []string{"qa"}},
	{Operation: "approve", Roles: []string{"lead"}},
	{Operation: "revert", Roles: []string{"lead"}},
}}

// TestPolicyTable checks the built-in and the role policy for every role
// and operation, with the part's stage where the rule depends on it.
func TestPolicyTable(t *testing.T) {
	roles := map[string][]string{
		"reader": {"read-only"}, "editor": {"editor"}, "admin": {"admin"},
		"qa": {"editor", "qa"}, "lead": {"editor", "lead"}, "qa-reader": {"read-only", "qa"},
	}
	type op struct {
		op    httpapi.Operation
		stage parts.Category
	}
	ops := []op{{httpapi.OpRead, ""}, {httpapi.OpWrite, ""}, {"approve", "review"}, {"assign", "cnc"},
		{"complete", "cnc"}, {"complete", "inspection"}, {"revert", "completed"}}
	// want[role] lists, in ops order, whether the role policy allows it; the
	// built-in policy allows exactly read for readers and everything for
	// editors and admins.
	want := map[string][]bool{
		"reader":    {true, false, false, false, false, false, false},
		"editor":    {true, true, false, true, true, false, false},
		"admin":     {true, true, false, true, true, false, false},
		"qa":        {true, true, false, true, true, true, false},
		"lead":      {true, true, true, true, true, false, true},
		"qa-reader": {true, false, false, false, false, false, false},
	}
	for name, rs := range roles {
		p := httpapi.Principal{Name: name, Roles: rs}
		writer := p.HasRole("editor") || p.HasRole("admin")
		for i, o := range ops {
			var part *parts.Part
			if o.stage != "" {
				part = &parts.Part{Category: o.stage}
			}
			err := httpapi.BuiltinPolicy{}.Authorize(context.Background(), p, o.op, part)
			if (err == nil) != (o.op == httpapi.OpRead || writer) {
				t.Errorf("builtin: %s %s from %s: %v", name, o.op, o.stage, err)
			}
			err = shopPolicy.Authorize(context.Background(), p, o.op, part)
			var ref *httpapi.Refusal
			if (err == nil) != want[name][i] || (err != nil && !errors.As(err, &ref)) {
				t.Errorf("role policy: %s %s from %s: err = %v, want allowed=%v", name, o.op, o.stage, err, want[name][i])
			}
		}
	}
}

func TestRolePolicyValidate(t *testing.T) {
	for _, bad := range []httpapi.RoleRule{
		{Operation: "paint", Roles: []string{"qa"}},
		{Operation: "complete"},
		{Operation: "read", From: []parts.Category{"review"}, Roles: []string{"qa"}},
	} {
		if _, err := httpapi.NewHandler(parts.NewService(nil, nil), &httpapi.Options{Policy: httpapi.RolePolicy{Rules: []httpapi.RoleRule{bad}}}); err == nil {
			t.Errorf("NewHandler accepted rule %+v", bad)
		}
	}
}

// headerAuth trusts X-User (a test stand-in for a session): roles by name.
var headerAuth = httpapi.AuthenticatorFunc(func(r *http.Request) (httpapi.Principal, error) {
	user := r.Header.Get("X-User")
	roles := map[string][]string{"ada": {"editor"}, "quinn": {"editor", "qa"}, "lena": {"editor", "lead"}, "rita": {"read-only"}}
	switch {
	case user == "":
		return httpapi.Principal{}, httpapi.ErrNoCredentials
	case roles[user] == nil:
		return httpapi.Principal{}, httpapi.ErrBadCredentials
	}
	return httpapi.Principal{Name: user, Roles: roles[user]}, nil
})

// TestAuthenticatorAndPolicyOverHTTP: a custom authenticator's principal is
// the history's actor, the assign keeps the named person too, and a refused
// action is 403 naming the rule and writes nothing.
func TestAuthenticatorAndPolicyOverHTTP(t *testing.T) {
	e := newFlowEnv(t, partstest.InspectionWorkflow(), func(o *httpapi.Options) {
		o.Authenticator, o.Policy = headerAuth, shopPolicy
	})
	as := func(user string) map[string]string { return map[string]string{"X-API-Key": "", "X-User": user} }
	wantError(t, e.do(req{method: "GET", path: "/api/parts/", header: as("")}), http.StatusUnauthorized, "Authentication required", "")
	wantError(t, e.do(req{method: "GET", path: "/api/parts/", header: as("mallory")}), http.StatusUnauthorized, "Invalid credentials", "")
	wantError(t, e.do(req{method: "POST", path: "/api/parts/", header: as("rita"), body: map[string]any{"partId": "X"}}),
		http.StatusForbidden, "Forbidden: writing needs the role editor or admin", "")

	p := e.must(http.StatusCreated, req{method: "POST", path: "/api/parts/", header: as("ada"),
		body: map[string]any{"partId": "P-1", "material": "Al", "subsystem": "Drive", "type": "cnc"}})
	wantError(t, e.do(req{method: "POST", path: partPath(p, "/approve"), header: as("ada")}),
		http.StatusForbidden, "Forbidden: approve needs the role lead", "")
	e.must(http.StatusOK, req{method: "POST", path: partPath(p, "/approve"), header: as("lena"), body: map[string]any{"reviewer": "Rita"}})
	e.must(http.StatusOK, req{method: "POST", path: partPath(p, "/assign"), header: as("lena"), body: map[string]any{"assigned": "Ada"}})
	e.must(http.StatusOK, req{method: "POST", path: partPath(p, "/complete"), header: as("ada")}) // cnc -> inspection
	r := e.do(req{method: "POST", path: partPath(p, "/complete"), header: as("ada")})
	body := wantError(t, r, http.StatusForbidden, "Forbidden: complete from inspection needs the role qa", "")
	if d, _ := body["details"].(map[string]any); d["rule"] != "complete from inspection needs the role qa" {
		t.Errorf("details = %v", body["details"])
	}
	got := e.must(http.StatusOK, req{method: "POST", path: partPath(p, "/complete"), header: as("quinn")})
	if got["category"] != "completed" {
		t.Fatalf("qa complete from inspection: %v", got["category"])
	}
	hist := e.must(http.StatusOK, req{method: "GET", path: partPath(p, "/history"), header: as("ada")})
	var actors []string
	events, _ := hist["events"].([]any)
	for _, ev := range events {
		m, _ := ev.(map[string]any)
		actors = append(actors, m["action"].(string)+":"+m["actor"].(string))
	}
	if strings.Join(actors, " ") != "create:ada approve:lena assign:lena complete:ada complete:quinn" {
		t.Errorf("history = %v", actors)
	}
	if !strings.Contains(string(e.do(req{method: "GET", path: partPath(p, "/history"), header: as("ada")}).body), `"Ada"`) {
		t.Errorf("history does not keep the assigned person")
	}
}
