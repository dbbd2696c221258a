package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// builtBinary is the real partflow binary, built once per test run by the
// first buildBinary and removed by TestMain.
var builtBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// buildBinary returns the real partflow binary, building it on first use.
// Tests share it and must not change it.
func buildBinary(t *testing.T) string {
	t.Helper()
	b := &builtBinary
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "partflow-bin"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "partflow")
		cmd := exec.Command("go", "build", "-o", b.path, ".")
		cmd.Stderr = os.Stderr
		b.err = cmd.Run()
	})
	if b.err != nil {
		t.Fatalf("go build: %v", b.err)
	}
	return b.path
}

// generatedKey reads the API key a server generated in its data folder on
// first start.
func generatedKey(t *testing.T, data string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "api_key"))
	if err != nil {
		t.Fatalf("generated key file: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// server is a running partflow serve process.
type server struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
	done   chan error
}

var listenLine = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)/`)

// startServer starts `partflow serve` on a free port and waits for its
// "listening on" line.
func startServer(t *testing.T, bin, dir string, env []string) *server {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "TMPDIR=") }) {
		// A private, short system temporary directory: plugin sockets go
		// there when the data folder's path is too long for them, and a
		// server killed with SIGKILL leaves them behind.
		tmp, err := os.MkdirTemp("", "pft")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(tmp) })
		cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() { // the process has ended: its stderr is complete
			b := s.stderr.Bytes()
			t.Logf("stderr of %s (last 4 KiB):\n%s", s.url, b[max(0, len(b)-4096):])
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		s.done <- cmd.Wait()
	}()
	select {
	case s.url = <-found:
	case err := <-s.done:
		t.Fatalf("server exited before listening: %v\n%s", err, s.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start listening\n%s", s.stderr)
	}
	return s
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("server exit after SIGTERM: %v\n%s", err, s.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not exit within 30s of SIGTERM")
	}
}

func call(t *testing.T, method, url, key string, body any, want int) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, resp.StatusCode, want, raw)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: not JSON: %q", method, url, raw)
	}
	return out
}

// TestEndToEndServeRestart runs the real binary: first start generates a
// key, the workflow runs over HTTP, SIGTERM exits cleanly, and after a
// restart with the same data directory the data and key are still there.
func TestEndToEndServeRestart(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	env := []string{"PARTFLOW_ENV=development"}
	s := startServer(t, bin, dir, env)
	key := generatedKey(t, filepath.Join(dir, "data"))

	call(t, "GET", s.url+"/health", "", nil, 200)
	call(t, "GET", s.url+"/api/parts/", "", nil, 401)
	p := call(t, "POST", s.url+"/api/parts/", key, map[string]any{"partId": "E2E-1", "name": "Bracket",
		"type": "cnc", "material": "6061", "subsystem": "Drive"}, 201)
	id := int(p["id"].(float64))
	base := fmt.Sprintf("%s/api/parts/%d", s.url, id)
	call(t, "POST", base+"/approve", key, map[string]any{"reviewer": "Rita"}, 200)
	call(t, "POST", base+"/assign", key, map[string]any{"assigned": "Ada"}, 200)
	call(t, "POST", base+"/assign", key, map[string]any{"assigned": "Bob"}, 409)
	// the key in the query string and in the body must work and never be logged
	call(t, "GET", base+"?api_key="+key, "", nil, 200)
	done := call(t, "POST", base+"/complete", "", map[string]any{"api_key": key}, 200)
	if done["category"] != "completed" || done["status"] != "Completed" {
		t.Fatalf("after complete: %v", done)
	}
	list := call(t, "GET", s.url+"/api/parts/?category=completed", key, nil, 200)
	if list["total"].(float64) != 1 {
		t.Fatalf("list: %v", list)
	}
	s.stop(t)
	if strings.Contains(s.stderr.String(), key) {
		t.Fatal("the server log contains the API key")
	}
	if !strings.Contains(s.stderr.String(), "stopped") {
		t.Fatalf("no clean shutdown in the log:\n%s", s.stderr)
	}

	s2 := startServer(t, bin, dir, env)
	after := call(t, "GET", fmt.Sprintf("%s/api/parts/%d", s2.url, id), key, nil, 200)
	if after["status"] != "Completed" || after["assigned"] != "Ada" || after["partId"] != "E2E-1" {
		t.Fatalf("after restart: %v", after)
	}
	hist := call(t, "GET", fmt.Sprintf("%s/api/parts/%d/history", s2.url, id), key, nil, 200)
	if b, _ := json.Marshal(hist); !strings.Contains(string(b), "complete") {
		t.Fatalf("history after restart lacks the complete event: %s", b)
	}
	s2.stop(t)
}
