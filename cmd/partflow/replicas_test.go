package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/partflow/partflow/internal/pgtest"
)

const replicaKey = "replicas-test-admin-key-0123456789"

// cluster is three `partflow serve` processes on one PostgreSQL database
// and one S3 bucket.
type cluster struct {
	hooks    *hookLog
	db       *sql.DB
	s3       *httptest.Server
	replicas []*server
	next     int
	mu       sync.Mutex
}

// startS3 serves an in-memory S3 bucket "parts" on 127.0.0.1 and returns
// its files_url.
func startS3(t *testing.T) (string, *httptest.Server) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("parts"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(gofakes3.New(backend).Server())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return "s3://parts?endpoint=" + srv.URL + "&region=eu-west-1&use_path_style=true", srv
}

// buildTestPlugin builds the converter plugin whose input "slow ..." takes
// a second to convert.
func buildTestPlugin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "testplugin")
	cmd := exec.Command("go", "build", "-o", bin, "../../convert/grpcplugin/internal/testplugin")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build testplugin: %v", err)
	}
	return bin
}

// startCluster starts three replicas named r0, r1, r2.
func startCluster(t *testing.T) *cluster {
	dbURL := pgtest.NewDatabase(t)
	filesURL, s3 := startS3(t)
	hooks := &hookLog{seen: map[string]int{}}
	recv := httptest.NewServer(hooks)
	t.Cleanup(recv.Close)
	bin, plugin := buildBinary(t), buildTestPlugin(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`env: development
database_url: %q
files_url: %q
api_key: %q
convert:
  wait: 1ms
  lease: 5s
plugins:
  - name: testplugin
    command: [%q]
    formats: [step]
    pool_size: 2
webhooks:
  - {id: hook, url: %q, secret: replicas-test-webhook-secret, enabled: true, allow_http: true,
     allow_private: true, actions: [create]}
`, dbURL, filesURL, replicaKey, plugin, recv.URL)
	cfgPath := filepath.Join(dir, "partflow.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &cluster{db: db, s3: s3, hooks: hooks}
	for i := range 3 {
		rdir := filepath.Join(dir, fmt.Sprint("r", i))
		if err := os.MkdirAll(rdir, 0o700); err != nil {
			t.Fatal(err)
		}
		env := []string{"PARTFLOW_CONFIG=" + cfgPath, fmt.Sprint("PARTFLOW_REPLICA_ID=r", i),
			"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"}
		c.replicas = append(c.replicas, startServer(t, bin, rdir, env))
	}
	return c
}

// pick returns the next replica's URL, round robin over the first n.
func (c *cluster) pick(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	return c.replicas[c.next%n].url
}

// do sends a request with the key and returns status, ETag and JSON body.
func do(t *testing.T, method, url string, body any) (int, string, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("X-API-Key", replicaKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, resp.Header.Get("ETag"), out
}

// hookLog receives webhook deliveries and counts them per part.
type hookLog struct {
	mu   sync.Mutex
	seen map[string]int // partId -> deliveries
}

func (h *hookLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var e struct {
		Part struct {
			PartID string `json:"partId"`
		} `json:"part"`
	}
	_ = json.NewDecoder(r.Body).Decode(&e)
	h.mu.Lock()
	h.seen[e.Part.PartID]++
	h.mu.Unlock()
}

func (h *hookLog) count(partID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[partID]
}

func idOf(p map[string]any) string { return fmt.Sprint(p["id"]) }

// TestReplicas runs three real servers on one PostgreSQL database and one
// S3 bucket, spreading requests over them.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, S3 and three servers")
	}
	c := startCluster(t)
	t.Run("writes are seen by reads on every replica", func(t *testing.T) { testReplicaReads(t, c) })
	t.Run("claims through different replicas have one winner", func(t *testing.T) { testReplicaClaims(t, c) })
	t.Run("concurrent PUTs through different replicas lose nothing", func(t *testing.T) { testReplicaPuts(t, c) })
	t.Run("an event stream on one replica gets every replica's writes in order", func(t *testing.T) { testReplicaStream(t, c) })
	t.Run("a webhook endpoint managed through any replica is delivered by the lock holder", func(t *testing.T) {
		testReplicaWebhookAPI(t, c)
	})
	t.Run("conversions survive a replica killed mid-conversion", func(t *testing.T) { testReplicaKill(t, c) })
	t.Run("a replica whose file store is unreachable is not ready", func(t *testing.T) {
		if st, _, body := do(t, "GET", c.replicas[0].url+"/ready", nil); st != 200 {
			t.Fatalf("/ready before: %d %v", st, body)
		}
		c.s3.Close()
		if st, _, body := do(t, "GET", c.replicas[0].url+"/ready", nil); st != 503 || body["error"] != "file store unreachable" {
			t.Errorf("/ready without S3: %d %v, want 503 file store unreachable", st, body)
		}
	})
	for i, r := range c.replicas[:2] {
		r.stop(t) // the log is read once the process is gone
		if !strings.Contains(r.stderr.String(), fmt.Sprintf("replica=r%d", i)) {
			t.Errorf("replica r%d's log lines do not name it", i)
		}
	}
}

func testReplicaReads(t *testing.T, c *cluster) {
	a, b, cc := c.replicas[0].url, c.replicas[1].url, c.replicas[2].url
	_, _, before := do(t, "GET", b+"/api/parts/stats", nil)
	st, etag, p := do(t, "POST", a+"/api/parts/", map[string]any{"partId": "RX-1", "material": "6061",
		"subsystem": "Drive", "name": "Zebracket"})
	if st != 201 {
		t.Fatalf("create on A: %d %v", st, p)
	}
	for _, url := range []string{b, cc} {
		st, got, q := do(t, "GET", url+"/api/parts/"+idOf(p), nil)
		if st != 200 || got != etag || q["name"] != "Zebracket" {
			t.Errorf("%s: part %d %q %v, want A's answer with ETag %s", url, st, got, q["name"], etag)
		}
		_, _, list := do(t, "GET", url+"/api/parts/?search=zebrack", nil)
		if fmt.Sprint(list["total"]) != "1" {
			t.Errorf("%s: search after the create: %v", url, list)
		}
		_, _, all := do(t, "GET", url+"/api/parts/?limit=1", nil)
		if ps, _ := all["parts"].([]any); len(ps) != 1 || idOf(ps[0].(map[string]any)) != idOf(p) {
			t.Errorf("%s: newest part in the list: %v", url, all["parts"])
		}
		_, _, stats := do(t, "GET", url+"/api/parts/stats", nil)
		if stats["total"].(float64) != before["total"].(float64)+1 {
			t.Errorf("%s: stats total %v, want %v + 1", url, stats["total"], before["total"])
		}
	}
	_, listETag, _ := do(t, "GET", a+"/api/parts/?limit=5", nil)
	if listETag == "" {
		t.Fatal("list answer without an ETag")
	}
	st, etag2, _ := do(t, "PUT", b+"/api/parts/"+idOf(p), map[string]any{"name": "Yakbracket"})
	if st != 200 || etag2 == etag {
		t.Fatalf("update on B: %d, ETag %s (was %s)", st, etag2, etag)
	}
	for _, url := range []string{a, cc} {
		if _, got, q := do(t, "GET", url+"/api/parts/"+idOf(p), nil); got != etag2 || q["name"] != "Yakbracket" {
			t.Errorf("%s after B's update: ETag %s name %v, want %s Yakbracket", url, got, q["name"], etag2)
		}
		if _, _, list := do(t, "GET", url+"/api/parts/?search=zebrack", nil); fmt.Sprint(list["total"]) != "0" {
			t.Errorf("%s: the old name is still found: %v", url, list["total"])
		}
		// Revalidations after the write: never a stale 304.
		if code := revalidate(t, url+"/api/parts/"+idOf(p), etag); code != 200 {
			t.Errorf("%s: part with the pre-update ETag: %d, want 200", url, code)
		}
		if code := revalidate(t, url+"/api/parts/?limit=5", listETag); code != 200 {
			t.Errorf("%s: list with A's pre-update ETag: %d, want 200", url, code)
		}
		// The current answer's ETag does revalidate (so the 200s above
		// are not merely the absence of 304s).
		_, cur, _ := do(t, "GET", url+"/api/parts/?limit=5", nil)
		if code := revalidate(t, url+"/api/parts/?limit=5", cur); code != 304 {
			t.Errorf("%s: list with its current ETag %q: %d, want 304", url, cur, code)
		}
	}
}

// revalidate GETs url with If-None-Match: etag ("" = none) and returns the
// status.
func revalidate(t *testing.T, url, etag string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("X-API-Key", replicaKey)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func testReplicaClaims(t *testing.T, c *cluster) {
	_, _, p := do(t, "POST", c.pick(3)+"/api/parts/", map[string]any{"partId": "RX-CLAIM", "material": "m",
		"subsystem": "s", "type": "hand"})
	if st, _, _ := do(t, "POST", c.pick(3)+"/api/parts/"+idOf(p)+"/approve", nil); st != 200 {
		t.Fatalf("approve: %d", st)
	}
	const clients = 16
	for round := range 3 {
		codes := make([]int, clients)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range clients {
			url := c.replicas[i%3].url + "/api/parts/" + idOf(p) + "/assign"
			wg.Go(func() {
				<-start
				codes[i], _, _ = do(t, "POST", url, map[string]any{"assigned": fmt.Sprint("w", round, "-", i)})
			})
		}
		close(start)
		wg.Wait()
		wins, conflicts := 0, 0
		for _, code := range codes {
			switch code {
			case 200:
				wins++
			case 409:
				conflicts++
			}
		}
		if wins != 1 || conflicts != clients-1 {
			t.Errorf("round %d: %d wins, %d conflicts (codes %v); want 1 and %d", round, wins, conflicts, codes, clients-1)
		}
		if st, _, _ := do(t, "POST", c.pick(3)+"/api/parts/"+idOf(p)+"/unclaim", nil); st != 200 {
			t.Fatalf("unclaim: %d", st)
		}
	}
}

func testReplicaPuts(t *testing.T, c *cluster) {
	_, _, p := do(t, "POST", c.pick(3)+"/api/parts/", map[string]any{"partId": "RX-PUT", "material": "m", "subsystem": "s"})
	const writers = 12
	var wg sync.WaitGroup
	codes := make([]int, writers)
	for i := range writers {
		url := c.replicas[i%3].url + "/api/parts/" + idOf(p)
		wg.Go(func() { codes[i], _, _ = do(t, "PUT", url, map[string]any{"notes": fmt.Sprint("note-", i)}) })
	}
	wg.Wait()
	for i, code := range codes {
		if code != 200 {
			t.Errorf("PUT %d: %d", i, code)
		}
	}
	req, _ := http.NewRequest("GET", c.pick(3)+"/api/parts/"+idOf(p)+"/history", nil)
	req.Header.Set("X-API-Key", replicaKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	seen := 0
	for i := range writers {
		if bytes.Contains(raw, []byte(fmt.Sprintf(`"note-%d"`, i))) {
			seen++
		}
	}
	if seen != writers {
		t.Errorf("history shows %d of %d updates:\n%s", seen, writers, raw)
	}
}

func testReplicaStream(t *testing.T, c *cluster) {
	lines := streamLines(t, c.replicas[2].url+"/api/events/stream?action=create", replicaKey)
	const n = 10
	for i := range n {
		url := c.replicas[i%2].url // A and B
		if st, _, _ := do(t, "POST", url+"/api/parts/", map[string]any{"partId": fmt.Sprint("RX-SSE-", i),
			"material": "m", "subsystem": "s"}); st != 201 {
			t.Fatalf("create %d: %d", i, st)
		}
	}
	deadline := time.After(20 * time.Second)
	for i := 0; i < n; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended after %d events", i)
			}
			if !strings.HasPrefix(l, "data: ") {
				continue
			}
			if want := fmt.Sprintf(`"partId":"RX-SSE-%d"`, i); !strings.Contains(l, want) {
				t.Fatalf("event %d on C: %s, want %s", i, l, want)
			}
			i++
		case <-deadline:
			t.Fatalf("C's stream got %d of %d events", i, n)
		}
	}
	// One replica delivers webhooks: each create arrives once.
	last := fmt.Sprint("RX-SSE-", n-1)
	waitFor(t, 20*time.Second, "the webhook of "+last, func() bool { return c.hooks.count(last) > 0 })
	for i := range n {
		if k := c.hooks.count(fmt.Sprint("RX-SSE-", i)); k != 1 {
			t.Errorf("create of RX-SSE-%d delivered %d times, want once", i, k)
		}
	}
}

// uploadSTEP uploads a STEP file with body to part id through url.
func uploadSTEP(t *testing.T, url, id, body string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "part.step")
	fw.Write([]byte(body))
	mw.Close()
	req, _ := http.NewRequest("POST", url+"/api/parts/"+id+"/upload", &buf)
	req.Header.Set("X-API-Key", replicaKey)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 {
		raw, _ := io.ReadAll(resp.Body)
		t.Fatalf("upload to %s: %d %s", url, resp.StatusCode, raw)
	}
}

// testReplicaKill uploads slow STEP files over the replicas and kills r2
// with SIGKILL while it converts: r0 and r1 finish its jobs once their
// leases end, every model ends ready, and only r2's jobs ran twice.
func testReplicaKill(t *testing.T, c *cluster) {
	const n = 12
	ids := make([]string, n)
	for i := range n {
		_, _, p := do(t, "POST", c.pick(3)+"/api/parts/", map[string]any{"partId": fmt.Sprint("RX-CAD-", i),
			"material": "m", "subsystem": "s", "type": "cnc"})
		ids[i] = idOf(p)
	}
	for i, id := range ids {
		uploadSTEP(t, c.replicas[i%3].url, id, fmt.Sprintf("ISO-10303-21;\nslow input %d\n", i))
	}
	running := func(owner string) int {
		var k int
		if err := c.db.QueryRow("SELECT count(*) FROM jobs WHERE state = 'running' AND lease_owner = $1", owner).Scan(&k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	waitFor(t, 20*time.Second, "r2 to be converting", func() bool { return running("r2") > 0 })
	victim := c.replicas[2]
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	ready := func(id string) string {
		_, _, p := do(t, "GET", c.pick(2)+"/api/parts/"+id, nil)
		m, _ := p["model"].(map[string]any)
		return fmt.Sprint(m["state"])
	}
	for _, id := range ids {
		waitFor(t, 60*time.Second, "model of part "+id, func() bool { s := ready(id); return s == "ready" || s == "failed" })
		if s := ready(id); s != "ready" {
			t.Errorf("part %s model %s, want ready", id, s)
		}
	}
	rows, err := c.db.Query("SELECT state, attempts, count(*) FROM jobs GROUP BY state, attempts")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	twice := 0
	for rows.Next() {
		var state string
		var attempts, k int
		if err := rows.Scan(&state, &attempts, &k); err != nil {
			t.Fatal(err)
		}
		if state != "done" {
			t.Errorf("%d jobs %s after %d attempts, want all done", k, state, attempts)
		}
		switch {
		case attempts == 2:
			twice += k
		case attempts != 1:
			t.Errorf("%d jobs took %d attempts", k, attempts)
		}
	}
	if twice < 1 || twice > 2 { // r2 ran at most two at once (pool_size 2)
		t.Errorf("%d jobs ran twice; want only r2's interrupted ones (1 or 2)", twice)
	}
}

// testReplicaWebhookAPI adds an endpoint through A, sees the delivering
// replica deliver to it and its log on C, disables it through B and sees
// no more deliveries.
func testReplicaWebhookAPI(t *testing.T, c *cluster) {
	got := &hookLog{seen: map[string]int{}}
	recv := httptest.NewServer(got)
	defer recv.Close()
	a, b, cc := c.replicas[0].url, c.replicas[1].url, c.replicas[2].url
	ep := map[string]any{"url": recv.URL, "secret": "replicas-api-webhook-secret", "enabled": true,
		"allowHttp": true, "allowPrivate": true, "actions": []string{"create"}}
	if st, _, body := do(t, "PUT", a+"/api/webhooks/api-hook", ep); st != 200 {
		t.Fatalf("PUT webhook on A: %d %v", st, body)
	}
	create := func(url, id string) {
		t.Helper()
		if st, _, _ := do(t, "POST", url+"/api/parts/", map[string]any{"partId": id, "material": "m", "subsystem": "s"}); st != 201 {
			t.Fatalf("create %s: %d", id, st)
		}
	}
	create(b, "RX-HOOK-1")
	waitFor(t, 20*time.Second, "the API endpoint's delivery", func() bool { return got.count("RX-HOOK-1") > 0 })
	waitFor(t, 10*time.Second, "the delivery in C's log", func() bool {
		_, _, body := do(t, "GET", cc+"/api/webhooks/api-hook/deliveries", nil)
		ds, _ := body["deliveries"].([]any)
		return len(ds) == 1 && ds[0].(map[string]any)["outcome"] == "delivered"
	})
	ep["enabled"] = false
	delete(ep, "secret") // kept
	if st, _, body := do(t, "PUT", b+"/api/webhooks/api-hook", ep); st != 200 || body["enabled"] != false {
		t.Fatalf("disable webhook on B: %d %v", st, body)
	}
	create(a, "RX-HOOK-2")
	// The configured endpoint gets it; the disabled one does not.
	waitFor(t, 20*time.Second, "the configured endpoint's delivery", func() bool { return c.hooks.count("RX-HOOK-2") > 0 })
	if n := got.count("RX-HOOK-2"); n != 0 || got.count("RX-HOOK-1") != 1 {
		t.Errorf("disabled endpoint got RX-HOOK-2 %d times, RX-HOOK-1 %d times; want 0 and 1", n, got.count("RX-HOOK-1"))
	}
	_, _, body := do(t, "GET", a+"/api/webhooks/api-hook/deliveries", nil)
	if body["enabled"] != false || len(body["deliveries"].([]any)) != 1 {
		t.Errorf("endpoint on A after disabling: %v", body)
	}
}
