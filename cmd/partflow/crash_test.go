//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// waitFor polls cond until it holds or d passes: the way to wait on what
// another process does to the file system.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// globbed reports whether pattern matches at least one path.
func globbed(pattern string) bool {
	m, _ := filepath.Glob(pattern)
	return len(m) > 0
}

// multipartBody is an upload form with one file.
func multipartBody(t *testing.T, name string, content []byte) (body []byte, contentType string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fw, err := w.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(content)
	w.Close()
	return b.Bytes(), w.FormDataContentType()
}

// upload posts a whole file to a part and returns the status.
func upload(t *testing.T, base, key string, id int, name string, content []byte) int {
	t.Helper()
	body, ct := multipartBody(t, name, content)
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/parts/%d/upload", base, id), bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// startPartialUpload sends the headers and the first half of an upload
// and leaves the connection open, so the server is mid-upload.
func startPartialUpload(t *testing.T, base, key string, id int, content []byte) net.Conn {
	t.Helper()
	body, ct := multipartBody(t, "big.step", content)
	u, _ := url.Parse(base)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /api/parts/%d/upload HTTP/1.1\r\nHost: %s\r\nX-API-Key: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		id, u.Host, key, ct, len(body))
	if _, err := c.Write(body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}
	return c
}

// stepFile is a STEP file of about n bytes whose first word after the magic
// tells the test plugin what to do.
func stepFile(word string, n int) []byte {
	return append([]byte("ISO-10303-21;\n"+word+"\n"), bytes.Repeat([]byte("/* padding */\n"), n/14)...)
}

// TestCrashLeavesNoDebris SIGKILLs the real server in the middle of an
// upload (its body half received) and of a conversion (the plugin busy),
// checks the debris is there, restarts with a short grace period and
// checks the start-up sweep removes every file outside the referenced
// objects, with `partflow gc` finding nothing left.
func TestCrashLeavesNoDebris(t *testing.T) {
	bin := buildBinary(t)
	plug := filepath.Join(t.TempDir(), "testplugin")
	if out, err := exec.Command("go", "build", "-o", plug, "../../convert/grpcplugin/internal/testplugin").CombinedOutput(); err != nil {
		t.Fatalf("build the test plugin: %v\n%s", err, out)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	env := []string{"PARTFLOW_ENV=development", "PARTFLOW_CONVERT__WAIT=0s",
		`PARTFLOW_PLUGINS=[{"name":"test","command":["` + plug + `"],"formats":["step"],"timeout":"5m"}]`}
	s := startServer(t, bin, dir, env)
	key := generatedKey(t, data)
	newPart := func(name string) int {
		p := call(t, "POST", s.url+"/api/parts/", key, map[string]any{"partId": name, "name": name,
			"type": "cnc", "material": "6061", "subsystem": "Drive"}, 201)
		return int(p["id"].(float64))
	}
	kept := newPart("KEPT")
	if st := upload(t, s.url, key, kept, "kept.step", stepFile("fine", 1<<10)); st != 201 {
		t.Fatalf("upload: %d", st)
	}
	// A conversion under way: the plugin hangs on this file.
	busy := newPart("BUSY")
	if st := upload(t, s.url, key, busy, "hang.step", stepFile("hang", 1<<10)); st != 201 {
		t.Fatalf("upload: %d", st)
	}
	waitFor(t, 20*time.Second, "the conversion's job directories", func() bool {
		return globbed(filepath.Join(data, "tmp", "partflow-job-*", "input.step")) &&
			globbed(filepath.Join(data, "tmp", "partflow-plugin-*", "job-*", "input.step"))
	})
	// An upload under way: half its 8 MiB body is in a temporary file next
	// to its key.
	startPartialUpload(t, s.url, key, newPart("CUT"), stepFile("fine", 8<<20))
	waitFor(t, 20*time.Second, "the upload's temporary file", func() bool {
		return slices.ContainsFunc(debris(t, data), func(p string) bool { return strings.HasSuffix(p, ".tmp") })
	})

	crash(t, s)
	before := debris(t, data)
	if len(before) < 3 {
		t.Fatalf("debris after the crash %v, want the partial upload and both job directories", before)
	}
	t.Logf("debris after SIGKILL: %v", before)

	env2 := []string{"PARTFLOW_ENV=development", "PARTFLOW_GC__GRACE=1ms"}
	s2 := startServer(t, bin, dir, env2)
	waitFor(t, 20*time.Second, "the start-up sweep", func() bool { return len(debris(t, data)) == 0 })
	// Every object left is one a part references.
	refs := 0
	for _, id := range []int{kept, busy} {
		p := call(t, "GET", fmt.Sprintf("%s/api/parts/%d", s2.url, id), key, nil, 200)
		refs += len(p["files"].([]any))
	}
	if objs := objects(t, data); len(objs) != refs {
		t.Errorf("objects on disk %v, want the %d the parts reference", objs, refs)
	}
	s2.stop(t)
	cmd := exec.Command(bin, "gc", "--gc-grace", "1ms")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "PARTFLOW_ENV=development"}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "gc: removed 0 ") {
		t.Errorf("partflow gc after the sweep: %v\n%s", err, out)
	}
}

// debris lists what a crash leaves outside objects: spool files of
// earlier releases, partial writes and job directories.
func debris(t *testing.T, data string) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"files/.spool/put-*", "tmp/partflow-job-*", "tmp/partflow-plugin-*"} {
		m, _ := filepath.Glob(filepath.Join(data, pattern))
		out = append(out, m...)
	}
	filepath.WalkDir(filepath.Join(data, "files"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".tmp") {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// objects lists the stored objects (not their metadata side files) under
// the file store's parts/ prefix.
func objects(t *testing.T, data string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(data, "files", "parts"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(path, ".attrs") {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// TestModelErrorsHideInternals runs the real binary with the test plugin
// and checks that a crash, a timeout, running out of memory and an invalid
// file each leave a model.error of one sentence and a reference, without
// paths, process ids, sockets or the plugin's output, while the server log
// holds the detail under the same reference.
func TestModelErrorsHideInternals(t *testing.T) {
	bin := buildBinary(t)
	plug := filepath.Join(t.TempDir(), "testplugin")
	if out, err := exec.Command("go", "build", "-o", plug, "../../convert/grpcplugin/internal/testplugin").CombinedOutput(); err != nil {
		t.Fatalf("build the test plugin: %v\n%s", err, out)
	}
	dir := t.TempDir()
	s := startServer(t, bin, dir, []string{"PARTFLOW_ENV=development", "PARTFLOW_CONVERT__WAIT=0s",
		`PARTFLOW_PLUGINS=[{"name":"test","command":["` + plug + `"],"formats":["step"],"timeout":"8s","memory_limit":"2560MiB"}]`})
	key := generatedKey(t, filepath.Join(dir, "data"))
	tests := []struct{ word, want string }{
		{"crash", "The converter crashed on this file"},
		{"hang", "The conversion took too long and was stopped"},
		{"hog", "The converter ran out of memory on this file"},
		{"invalid", "The STEP file could not be read"},
	}
	leak := regexp.MustCompile(`/|\.sock|\bpid\b|process \d+|stderr|exit status|crashing on purpose|testplugin|job-`)
	var refs []string
	for i, tt := range tests {
		t.Run(tt.word, func(t *testing.T) {
			p := call(t, "POST", s.url+"/api/parts/", key, map[string]any{"partId": fmt.Sprintf("M-%d", i),
				"type": "cnc", "material": "6061", "subsystem": "Drive"}, 201)
			id := int(p["id"].(float64))
			if st := upload(t, s.url, key, id, tt.word+".step", stepFile(tt.word, 256)); st != 201 {
				t.Fatalf("upload: %d", st)
			}
			var msg string
			waitFor(t, 60*time.Second, "the conversion to fail", func() bool {
				m := call(t, "GET", fmt.Sprintf("%s/api/parts/%d", s.url, id), key, nil, 200)["model"].(map[string]any)
				msg, _ = m["error"].(string)
				return m["state"] == "failed"
			})
			if !strings.HasPrefix(msg, tt.want) {
				t.Errorf("model.error %q, want it to start with %q", msg, tt.want)
			}
			if l := leak.FindString(msg); l != "" {
				t.Errorf("model.error %q leaks %q", msg, l)
			}
			ref := regexp.MustCompile(`\(reference ([0-9a-f]+)\)$`).FindStringSubmatch(msg)
			if ref == nil {
				t.Errorf("model.error %q has no reference", msg)
				return
			}
			refs = append(refs, ref[1])
		})
	}
	s.stop(t) // the log is complete once the server has exited
	for _, ref := range refs {
		if !strings.Contains(s.stderr.String(), ref) {
			t.Errorf("reference %s is not in the server log", ref)
		}
	}
}

// TestCrashWhileStoringLeavesNoDebris SIGKILLs the real server while it
// writes an uploaded file into the file store (the partial
// "<name>.<hex>.tmp" is on disk) and checks that the restart's sweep
// removes it and that the part is as before the upload.
func TestCrashWhileStoringLeavesNoDebris(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	s := startServer(t, bin, dir, []string{"PARTFLOW_ENV=development"})
	key := generatedKey(t, data)
	p := call(t, "POST", s.url+"/api/parts/", key, map[string]any{"partId": "BIG", "type": "cnc", "material": "6061", "subsystem": "Drive"}, 201)
	id := int(p["id"].(float64))
	body, ct := multipartBody(t, "big.step", stepFile("fine", 128<<20))
	go func() { // fails once the server dies
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/parts/%d/upload", s.url, id), bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("X-API-Key", key)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	partial := func() bool {
		for _, pattern := range []string{"files/parts/*/*.tmp", "files/parts/*/*/*.tmp"} {
			if globbed(filepath.Join(data, pattern)) {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(60 * time.Second)
	for !partial() {
		if time.Now().After(deadline) {
			t.Fatal("never saw the partial object being written")
		}
		time.Sleep(time.Millisecond) // polling another process's file system
	}
	crash(t, s)
	if !partial() {
		t.Fatal("the partial object was gone before the kill: the write finished first")
	}
	s2 := startServer(t, bin, dir, []string{"PARTFLOW_ENV=development", "PARTFLOW_GC__GRACE=1ms"})
	waitFor(t, 20*time.Second, "the start-up sweep", func() bool { return !partial() && len(debris(t, data)) == 0 })
	if files := call(t, "GET", fmt.Sprintf("%s/api/parts/%d", s2.url, id), key, nil, 200)["files"].([]any); len(files) != 0 {
		t.Errorf("the part records %v from an upload that never finished", files)
	}
	if objs := objects(t, data); len(objs) != 0 {
		t.Errorf("objects left: %v", objs)
	}
}
