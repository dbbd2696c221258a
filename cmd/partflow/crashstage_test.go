//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildFailpointBinary builds the binary with the failpoint build tag
// (failpoint.go): a test can stop it right after a file store Put.
func buildFailpointBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "partflow")
	cmd := exec.Command("go", "build", "-tags", "failpoint", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build -tags failpoint: %v", err)
	}
	return bin
}

// TestCrashAfterStoringLeavesNoDebris stops the real binary (built with
// the failpoint tag) right after an object is stored in the file store and
// before anything records it, SIGKILLs it there, restarts it with a tiny
// grace period and checks that the start-up sweep removes the unreferenced
// object and the conversion's job directories, and that the part records
// only what was committed before the crash.
func TestCrashAfterStoringLeavesNoDebris(t *testing.T) {
	bin := buildFailpointBinary(t)
	plug := filepath.Join(t.TempDir(), "testplugin")
	if out, err := exec.Command("go", "build", "-o", plug, "../../convert/grpcplugin/internal/testplugin").CombinedOutput(); err != nil {
		t.Fatalf("build the test plugin: %v\n%s", err, out)
	}
	stages := []struct {
		name string
		stop string // the keys whose Put stops the server
		// recorded is how many files the part holds after the restart:
		// the CAD file, when the crash came after its upload's commit.
		recorded int
	}{
		{"upload/CAD stored, not recorded", `^parts/\d+/cad/`, 0},
		{"conversion/GLB stored in the conversion cache", `^cache/models/`, 1},
		{"conversion/GLB stored for the part, not recorded", `^parts/\d+/model/`, 1},
	}
	for _, st := range stages {
		t.Run(st.name, func(t *testing.T) { crashAfterPut(t, bin, plug, st.stop, st.recorded) })
	}
}

// crashAfterPut runs one stage of TestCrashAfterStoringLeavesNoDebris.
func crashAfterPut(t *testing.T, bin, plug, stop string, recorded int) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	stored := failpointReport(t, filepath.Join(dir, "failpoint"))
	s := startServer(t, bin, dir, []string{"PARTFLOW_ENV=development", "PARTFLOW_CONVERT__WAIT=0s",
		`PARTFLOW_PLUGINS=[{"name":"test","command":["` + plug + `"],"formats":["step"]}]`,
		"FAILPOINT_STOP_AFTER_PUT=" + stop, "FAILPOINT_REPORT=" + filepath.Join(dir, "failpoint")})
	key := generatedKey(t, data)
	p := call(t, "POST", s.url+"/api/parts/", key, map[string]any{"partId": "STAGE", "type": "cnc", "material": "6061", "subsystem": "Drive"}, 201)
	id := int(p["id"].(float64))
	body, ct := multipartBody(t, "stage.step", stepFile("fine", 64<<10))
	go func() { // the answer never comes when the stop is in the upload
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/parts/%d/upload", s.url, id), bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("X-API-Key", key)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	var obj string
	select {
	case k := <-stored:
		obj = filepath.Join(data, "files", filepath.FromSlash(k))
	case err := <-s.done:
		t.Fatalf("server exited before the failpoint: %v\n%s", err, s.stderr)
	case <-time.After(60 * time.Second):
		t.Fatal("the server never stored a key matching " + stop)
	}
	crash(t, s)
	if _, err := os.Stat(obj); err != nil {
		t.Fatalf("the stored object is not on disk after the crash: %v", err)
	}
	t.Logf("SIGKILLed with %s stored; debris: %v", obj, debris(t, data))

	// No plugins now: the restarted server writes no new objects.
	s2 := startServer(t, bin, dir, []string{"PARTFLOW_ENV=development", "PARTFLOW_GC__GRACE=1ms"})
	cached := strings.Contains(filepath.ToSlash(obj), "/files/cache/")
	waitFor(t, 20*time.Second, "the start-up sweep", func() bool {
		_, err := os.Stat(obj)
		return (cached || os.IsNotExist(err)) && len(debris(t, data)) == 0
	})
	files := call(t, "GET", fmt.Sprintf("%s/api/parts/%d", s2.url, id), key, nil, 200)["files"].([]any)
	if len(files) != recorded {
		t.Errorf("the part records %v, want %d file(s)", files, recorded)
	}
	if objs := objects(t, data); len(objs) != recorded {
		t.Errorf("objects on disk %v, want the %d the part references", objs, recorded)
	}
	if cached {
		// A cached model is kept (parts.CacheRetention) for the next
		// conversion of the same file: it is not debris.
		if _, err := os.Stat(obj); err != nil {
			t.Errorf("the cached model is gone: %v", err)
		}
	}
	s2.stop(t)
}

// failpointReport makes a FIFO at path for a failpoint build's report and
// returns the keys it reports ("stored KEY" lines), read as they come.
func failpointReport(t *testing.T, path string) <-chan string {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	// Read-write, so opening does not wait for a writer.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	keys := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, ok := strings.CutPrefix(sc.Text(), "stored "); ok {
				keys <- k
			}
		}
	}()
	return keys
}
