package httpapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/httpapi"
)

var noKey = map[string]string{"X-API-Key": ""}

func TestAuth_keyPlaces(t *testing.T) {
	create := map[string]any{"partId": "K", "material": "M", "subsystem": "S"}
	t.Run("header key is accepted", func(t *testing.T) {
		e := newEnv(t, nil)
		e.must(200, req{method: "GET", path: "/api/parts/"})
	})
	t.Run("missing key is 401 API key required", func(t *testing.T) {
		e := newEnv(t, nil)
		m := wantError(t, e.do(req{method: "GET", path: "/api/parts/", header: noKey}), 401, "API key required", "")
		if m["details"] == nil {
			t.Error("no details")
		}
	})
	t.Run("wrong key is 401 Invalid API key", func(t *testing.T) {
		e := newEnv(t, nil)
		wantError(t, e.do(req{method: "GET", path: "/api/parts/", header: map[string]string{"X-API-Key": "nope"}}), 401, "Invalid API key", "")
	})
	t.Run("query key is accepted when allowed", func(t *testing.T) {
		e := newEnv(t, func(o *httpapi.Options) { o.AllowQueryKey = true })
		e.must(200, req{method: "GET", path: "/api/parts/?api_key=" + readerKey, header: noKey})
	})
	t.Run("query key is refused when not allowed", func(t *testing.T) {
		e := newEnv(t, nil)
		m := wantError(t, e.do(req{method: "GET", path: "/api/parts/?api_key=" + adminKey, header: noKey}), 401, "API key required", "")
		if d, _ := m["details"].(string); !strings.Contains(d, "URL") {
			t.Errorf("details %q should say URL keys are disabled", d)
		}
	})
	t.Run("header wins over query", func(t *testing.T) {
		e := newEnv(t, func(o *httpapi.Options) { o.AllowQueryKey = true })
		wantError(t, e.do(req{method: "GET", path: "/api/parts/?api_key=" + adminKey, header: map[string]string{"X-API-Key": "wrong"}}),
			401, "Invalid API key", "")
	})
	t.Run("body key is accepted on POST", func(t *testing.T) {
		e := newEnv(t, nil)
		body := map[string]any{"api_key": editorKey}
		for k, v := range create {
			body[k] = v
		}
		p := e.must(201, req{method: "POST", path: "/api/parts/", body: body, header: noKey})
		if p["partId"] != "K" {
			t.Errorf("part %v", p)
		}
		h := e.must(200, req{method: "GET", path: partPath(p, "/history")})
		if ev := h["events"].([]any)[0].(map[string]any); ev["actor"] != "editor" {
			t.Errorf("actor %v, want the key's name", ev["actor"])
		}
	})
	t.Run("body key is accepted on PUT", func(t *testing.T) {
		e := newEnv(t, nil)
		p := e.create(nil)
		e.must(200, req{method: "PUT", path: partPath(p, ""), body: map[string]any{"api_key": adminKey, "name": "Z"}, header: noKey})
	})
	t.Run("body key is not read on GET", func(t *testing.T) {
		e := newEnv(t, nil)
		wantError(t, e.do(req{method: "GET", path: "/api/parts/", body: map[string]any{"api_key": adminKey}, header: noKey}), 401, "API key required", "")
	})
	t.Run("read-only key may read but not write", func(t *testing.T) {
		e := newEnv(t, nil)
		ro := map[string]string{"X-API-Key": readerKey}
		e.must(200, req{method: "GET", path: "/api/parts/stats", header: ro})
		wantError(t, e.do(req{method: "POST", path: "/api/parts/", body: create, header: ro}), 403, "", "")
	})
	t.Run("no keys configured means every key is invalid", func(t *testing.T) {
		e := newEnv(t, func(o *httpapi.Options) { o.Keys = nil })
		wantError(t, e.do(req{method: "GET", path: "/api/parts/"}), 401, "Invalid API key", "")
	})
}

func TestNewHandler_rejectsBadOptions(t *testing.T) {
	e := newEnv(t, nil)
	cases := map[string]*httpapi.Options{
		"empty key":          {Keys: []httpapi.Key{{Name: "x"}}},
		"duplicate names":    {Keys: []httpapi.Key{{Name: "a", Key: "1"}, {Name: "a", Key: "2"}}},
		"unknown role":       {Keys: []httpapi.Key{{Key: "1", Role: httpapi.Role(9)}}},
		"missing static dir": {StaticDir: t.TempDir() + "/nope"},
		"bad base path":      {BasePath: "/a?b"},
	}
	for name, o := range cases {
		t.Run(name+" is an error", func(t *testing.T) {
			if _, err := httpapi.NewHandler(e.svc, o); err == nil {
				t.Error("NewHandler succeeded")
			}
		})
	}
	if _, err := httpapi.NewHandler(nil, nil); err == nil {
		t.Error("nil service accepted")
	}
}

func TestAuthCheck_onceEveryTwoSeconds(t *testing.T) {
	e := newEnv(t, nil)
	check := func(key, remote string) resp {
		return e.do(req{method: "GET", path: "/api/parts/auth/check", header: map[string]string{"X-API-Key": key}, remote: remote})
	}
	r := check(adminKey, "192.0.2.1:1000")
	m := wantStatus(t, r, 200)
	if m["status"] != "authenticated" || m["message"] == nil || m["timestamp"] == nil {
		t.Errorf("body %v", m)
	}
	if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "no-cache") || !strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control %q", cc)
	}
	r = check(adminKey, "192.0.2.1:1001")
	m = wantError(t, r, 429, "", "")
	if m["retry_after"] != 2.0 || r.header.Get("Retry-After") != "2" {
		t.Errorf("retry_after %v Retry-After %q, want 2", m["retry_after"], r.header.Get("Retry-After"))
	}
	e.clock.Advance(1500 * time.Millisecond)
	r = check(adminKey, "192.0.2.1:1002")
	if m := wantError(t, r, 429, "", ""); m["retry_after"] != 1.0 {
		t.Errorf("retry_after %v, want 1", m["retry_after"])
	}
	wantStatus(t, check(editorKey, "192.0.2.1:1003"), 200)   // another key, same address
	wantStatus(t, check(adminKey, "198.51.100.4:1000"), 200) // same key, another address
	e.clock.Advance(500 * time.Millisecond)
	wantStatus(t, check(adminKey, "192.0.2.1:1004"), 200)
	wantError(t, check("wrong", "192.0.2.1:1005"), 401, "Invalid API key", "")
}

func wantStatus(t *testing.T, r resp, status int) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r.json(t)
}

func TestFailedAuthLimit(t *testing.T) {
	trusted := netip.MustParsePrefix("10.0.0.0/8")
	e := newEnv(t, func(o *httpapi.Options) { o.TrustedProxies = []netip.Prefix{trusted} })
	get := func(key, remote string, hdr map[string]string) resp {
		h := map[string]string{"X-API-Key": key}
		for k, v := range hdr {
			h[k] = v
		}
		return e.do(req{method: "GET", path: "/api/parts/stats", header: h, remote: remote})
	}
	const attacker, good = "192.0.2.66:4000", "198.51.100.7:5000"
	for i := range httpapi.DefaultFailedAuthLimit {
		wantError(t, get(fmt.Sprintf("guess-%d", i), attacker, nil), 401, "Invalid API key", "")
	}
	t.Run("further wrong keys from the failing address get 429 with Retry-After", func(t *testing.T) {
		r := get("guess-more", attacker, nil)
		m := wantError(t, r, 429, "", "")
		if r.header.Get("Retry-After") != "60" || m["retry_after"] != 60.0 {
			t.Errorf("Retry-After %q retry_after %v", r.header.Get("Retry-After"), m["retry_after"])
		}
	})
	t.Run("a valid key from the failing address is still served", func(t *testing.T) {
		for range 3 * httpapi.DefaultFailedAuthLimit {
			get("guess-again", attacker, nil)
		}
		wantStatus(t, get(adminKey, attacker, nil), 200)
		wantStatus(t, get(readerKey, attacker, nil), 200)
	})
	t.Run("another address is not slowed", func(t *testing.T) {
		wantStatus(t, get(adminKey, good, nil), 200)
		wantError(t, get("one-typo", good, nil), 401, "Invalid API key", "")
	})
	t.Run("public routes stay open to the limited address", func(t *testing.T) {
		r := e.do(req{method: "GET", path: "/health", remote: attacker})
		wantStatus(t, r, 200)
	})
	t.Run("the limit ends with the window", func(t *testing.T) {
		e.clock.Advance(time.Minute)
		wantError(t, get("late-guess", attacker, nil), 401, "Invalid API key", "")
	})
	t.Run("a trusted proxy's clients keep their valid keys", func(t *testing.T) {
		proxy := "10.1.2.3:443"
		for i := range httpapi.DefaultFailedAuthLimit + 5 {
			get(fmt.Sprintf("x%d", i), proxy, map[string]string{"X-Forwarded-For": "203.0.113.9, 10.9.9.9"})
		}
		wantError(t, get("x", proxy, map[string]string{"X-Forwarded-For": "203.0.113.9"}), 429, "", "")
		wantStatus(t, get(adminKey, proxy, map[string]string{"X-Forwarded-For": "203.0.113.9"}), 200)
		wantError(t, get("x", proxy, map[string]string{"X-Forwarded-For": "203.0.113.10"}), 401, "Invalid API key", "")
		wantError(t, get("x", proxy, map[string]string{"X-Real-IP": "203.0.113.9"}), 429, "", "")
	})
	t.Run("behind an untrusted proxy everyone shares one address and valid keys still work", func(t *testing.T) {
		shared := "192.0.2.250:443" // a proxy not in TrustedProxies
		for i := range 5 * httpapi.DefaultFailedAuthLimit {
			get(fmt.Sprintf("vandal-%d", i), shared, nil)
		}
		wantError(t, get("vandal", shared, nil), 429, "", "")
		for _, k := range []string{adminKey, editorKey, readerKey} {
			wantStatus(t, get(k, shared, nil), 200)
		}
	})
	t.Run("a spoofed header from an untrusted peer is ignored", func(t *testing.T) {
		// The limited client's address in the header does not limit this peer...
		wantError(t, get("x", "192.0.2.200:1", map[string]string{"X-Forwarded-For": "203.0.113.9"}), 401, "Invalid API key", "")
		// ...and rotating the header does not escape its own limit.
		spoofer := "192.0.2.201:1"
		for i := range httpapi.DefaultFailedAuthLimit {
			get("bad", spoofer, map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", 100+i)})
		}
		wantError(t, get("bad", spoofer, map[string]string{"X-Forwarded-For": "203.0.113.250"}), 429, "", "")
	})
}

func TestFailedAuthLimit_memoryIsBounded(t *testing.T) {
	e := newEnv(t, nil)
	n := httpapi.MaxLimiterEntries + 500
	for i := range n {
		remote := fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255)
		e.do(req{method: "GET", path: "/api/parts/stats", header: map[string]string{"X-API-Key": "bad"}, remote: remote})
	}
	_, failures := httpapi.LimiterSizes(e.h)
	if failures > httpapi.MaxLimiterEntries {
		t.Errorf("%d failure entries, bound is %d", failures, httpapi.MaxLimiterEntries)
	}
	e.clock.Advance(2 * time.Minute)
	e.do(req{method: "GET", path: "/api/parts/stats", header: map[string]string{"X-API-Key": "bad"}, remote: "192.0.2.1:1"})
	if _, failures := httpapi.LimiterSizes(e.h); failures != 1 {
		t.Errorf("%d failure entries after the window, want 1 (expired ones evicted)", failures)
	}
}

func TestLogs_neverContainTheKey(t *testing.T) {
	e := newEnv(t, func(o *httpapi.Options) { o.AllowQueryKey = true })
	wrong := "wrong-key-that-is-also-secret"
	e.do(req{method: "GET", path: "/api/parts/", header: map[string]string{"X-Request-ID": "trace-1"}})
	e.do(req{method: "GET", path: "/api/parts/?api_key=" + adminKey + "&search=x", header: noKey})
	e.do(req{method: "POST", path: "/api/parts/", header: noKey,
		body: map[string]any{"api_key": adminKey, "partId": "L", "material": "M", "subsystem": "S"}})
	e.do(req{method: "POST", path: "/api/parts/", header: noKey, body: map[string]any{"api_key": adminKey}}) // 400
	e.do(req{method: "GET", path: "/api/parts/?api_key=" + wrong, header: noKey})
	e.do(req{method: "GET", path: "/api/parts/", header: map[string]string{"X-API-Key": wrong}})
	e.do(req{method: "GET", path: "/api/nope?api_key=" + adminKey, header: noKey})
	logs := e.logs.String()
	for _, secret := range []string{adminKey, wrong} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains a key:\n%s", logs)
		}
	}
	if strings.Contains(logs, "api_key") {
		t.Errorf("log contains the query string:\n%s", logs)
	}
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		if m["msg"] != "request" {
			continue
		}
		lines++
		for _, k := range []string{"method", "path", "status", "duration", "bytes", "request_id", "client"} {
			if _, ok := m[k]; !ok {
				t.Errorf("log line lacks %s: %s", k, sc.Text())
			}
		}
		if lines == 1 && m["request_id"] != "trace-1" {
			t.Errorf("request_id %v, want the client's trace-1", m["request_id"])
		}
	}
	if lines != 7 {
		t.Errorf("%d request lines, want 7:\n%s", lines, logs)
	}
}

func TestRequestID(t *testing.T) {
	e := newEnv(t, nil)
	if got := e.do(req{method: "GET", path: "/health", header: map[string]string{"X-Request-ID": "abc-123"}}).header.Get("X-Request-ID"); got != "abc-123" {
		t.Errorf("X-Request-ID %q, want abc-123", got)
	}
	for _, bad := range []string{"<script>", strings.Repeat("a", 65), "a b", "x\x7f"} {
		got := e.do(req{method: "GET", path: "/health", header: map[string]string{"X-Request-ID": bad}}).header.Get("X-Request-ID")
		if got == bad || len(got) < 16 {
			t.Errorf("unsafe id %q came back as %q, want a generated one", bad, got)
		}
	}
}
