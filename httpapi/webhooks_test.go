package httpapi_test

import (
	"strings"
	"testing"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/webhooks"
)

func TestWebhooks_adminManagesEndpoints(t *testing.T) {
	e := newEnv(t, nil)
	m, err := webhooks.New(e.svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	e = newEnvWith(t, e, func(o *httpapi.Options) { o.Webhooks = m })
	body := map[string]any{"url": "https://hooks.example.org/x", "secret": "0123456789abcdef", "format": "slack",
		"enabled": true, "actions": []string{"complete"}}
	wantError(t, e.do(req{method: "PUT", path: "/api/webhooks/team", body: body,
		header: map[string]string{"X-API-Key": editorKey}}), 403, "This needs an admin API key", "")
	got := e.must(200, req{method: "PUT", path: "/api/webhooks/team", body: body})
	if got["id"] != "team" || got["format"] != "slack" || got["secret"] != nil {
		t.Fatalf("PUT answered %v", got)
	}
	list := e.must(200, req{method: "GET", path: "/api/webhooks"})
	if s := string(e.do(req{method: "GET", path: "/api/webhooks"}).body); strings.Contains(s, "0123456789abcdef") {
		t.Fatalf("the secret is shown: %s", s)
	}
	if n := len(list["webhooks"].([]any)); n != 1 {
		t.Fatalf("%d webhooks listed", n)
	}
	e.must(200, req{method: "GET", path: "/api/webhooks/team/deliveries"})
	wantError(t, e.do(req{method: "PUT", path: "/api/webhooks/bad", body: map[string]any{"url": "http://x.org", "secret": "0123456789abcdef"}}), 400, "", "url")
	wantError(t, e.do(req{method: "GET", path: "/api/webhooks/nope"}), 404, "Webhook endpoint not found", "")
	e.must(200, req{method: "DELETE", path: "/api/webhooks/team"})
	wantError(t, e.do(req{method: "DELETE", path: "/api/webhooks/team"}), 404, "Webhook endpoint not found", "")
}

func TestWebhooks_routesWithoutManagerAre404(t *testing.T) {
	e := newEnv(t, nil)
	wantError(t, e.do(req{method: "GET", path: "/api/webhooks"}), 404, "Webhooks are not enabled on this server", "")
}

// newEnvWith returns e with a handler over the same service, its options
// changed by configure.
func newEnvWith(t *testing.T, e *env, configure func(o *httpapi.Options)) *env {
	t.Helper()
	o := *e.opts
	configure(&o)
	h, err := httpapi.NewHandler(e.svc, &o)
	if err != nil {
		t.Fatal(err)
	}
	out := *e
	out.h, out.opts = h, &o
	return &out
}
