package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// client is one logged-in browser.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
}

func login(t *testing.T, base, name, password string) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, base: base, c: &http.Client{Jar: jar}}
	resp, err := c.c.PostForm(base+"/login", url.Values{"user": {name}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login %s: %s", name, resp.Status)
	}
	return c
}

// call sends a JSON request to the API and decodes the answer.
func (c *client) call(method, path string, body any, want int) map[string]any {
	c.t.Helper()
	var rd *bytes.Reader
	if body == nil {
		rd = bytes.NewReader(nil)
	} else {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+"/tracker"+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		c.t.Fatalf("%s %s: %s, not JSON: %v", method, path, resp.Status, err)
	}
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: %s, want %d: %v", method, path, resp.Status, want, out)
	}
	return out
}

// TestEndToEnd: over HTTP, the session's user is the history's actor, a
// part completed from cnc waits in inspection, only qa may complete it from
// there (403 naming the rule otherwise), and no session is 401.
func TestEndToEnd(t *testing.T) {
	app, err := newApp(t.Context(), "sqlite://:memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()

	anon := &client{t: t, base: srv.URL, c: srv.Client()}
	anon.call("GET", "/api/parts/", nil, http.StatusUnauthorized)
	if resp, err := http.PostForm(srv.URL+"/login", url.Values{"user": {"ada"}, "password": {"wrong"}}); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("login with a wrong password: %v %v", resp.Status, err)
	}

	ada := login(t, srv.URL, "ada", "ada-pw")
	p := ada.call("POST", "/api/parts/", map[string]any{"partId": "BRK-1", "material": "Al", "subsystem": "Arm", "type": "cnc"}, http.StatusCreated)
	id := "/api/parts/" + jsonID(p)
	ada.call("POST", id+"/approve", map[string]any{"reviewer": "Rita"}, http.StatusOK)
	ada.call("POST", id+"/assign", map[string]any{"assigned": "Ada Lovelace"}, http.StatusOK)
	if got := ada.call("POST", id+"/complete", nil, http.StatusOK); got["category"] != "inspection" {
		t.Fatalf("complete from cnc: category %v, want inspection", got["category"])
	}
	refused := ada.call("POST", id+"/complete", nil, http.StatusForbidden)
	if !strings.Contains(refused["error"].(string), "complete from inspection needs the role qa") {
		t.Errorf("refusal = %v", refused)
	}
	quinn := login(t, srv.URL, "quinn", "quinn-pw")
	if got := quinn.call("POST", id+"/complete", nil, http.StatusOK); got["category"] != "completed" {
		t.Fatalf("qa complete: category %v", got["category"])
	}

	hist := ada.call("GET", id+"/history", nil, http.StatusOK)
	var got []string
	for _, e := range hist["events"].([]any) {
		ev := e.(map[string]any)
		got = append(got, ev["action"].(string)+" by "+ev["actor"].(string))
	}
	want := "create by ada, approve by ada, assign by ada, complete by ada, complete by quinn"
	if strings.Join(got, ", ") != want {
		t.Errorf("history = %q, want %q", strings.Join(got, ", "), want)
	}
	if stats := ada.call("GET", "/api/parts/stats", nil, http.StatusOK); stats["by_category"].(map[string]any)["inspection"] != float64(0) {
		t.Errorf("stats = %v", stats)
	}
}

func jsonID(p map[string]any) string {
	b, _ := json.Marshal(p["id"])
	return string(b)
}
