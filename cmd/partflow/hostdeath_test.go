//go:build linux

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// childPIDs lists the children of process pid, from /proc.
func childPIDs(t *testing.T, pid int) []int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, w := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(w); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// processGone reports whether pid has exited (a zombie nobody has reaped
// yet counts as exited).
func processGone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && strings.HasPrefix(string(stat[i+1:]), " Z")
}

// cascadioForTest returns the cascadio plugin's Python (the Makefile exports
// PARTFLOW_TEST_CASCADIO_PYTHON), or "" when it is not set up.
func cascadioForTest() string {
	if py := os.Getenv("PARTFLOW_TEST_CASCADIO_PYTHON"); py != "" {
		return py
	}
	if py, err := filepath.Abs("../../plugins/cascadio/.venv/bin/python"); err == nil {
		if _, err := os.Stat(py); err == nil {
			return py
		}
	}
	return ""
}

// TestPluginsDieWithTheServer SIGKILLs the real binary serving with the Go
// STL plugin (two processes) and, when set up, the cascadio plugin, and
// checks that every plugin process is gone within 2 s.
func TestPluginsDieWithTheServer(t *testing.T) {
	bin := buildBinary(t)
	stl := filepath.Join(t.TempDir(), "partflow-stl")
	if out, err := exec.Command("go", "build", "-o", stl, "../../plugins/stl").CombinedOutput(); err != nil {
		t.Fatalf("build the STL plugin: %v\n%s", err, out)
	}
	plugins := []map[string]any{{"name": "stl", "command": []string{stl}, "formats": []string{"stl"}, "pool_size": 2}}
	want := 2
	if py := cascadioForTest(); py != "" {
		plugins = append(plugins, map[string]any{"name": "cascadio", "command": []string{py, "-m", "partflow_cascadio"}, "formats": []string{"step"}})
		want++
	} else {
		t.Log("cascadio is not set up (make venv): checking the Go plugin only")
	}
	js, err := json.Marshal(plugins)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := startServer(t, bin, dir, []string{"PARTFLOW_ENV=development", "PARTFLOW_PLUGINS=" + string(js)})
	kids := childPIDs(t, s.cmd.Process.Pid)
	if len(kids) != want {
		t.Fatalf("server has children %v, want %d plugin processes", kids, want)
	}
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.done
	deadline := time.Now().Add(2 * time.Second)
	for _, pid := range kids {
		for !processGone(pid) {
			if time.Now().After(deadline) {
				cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
				t.Fatalf("plugin process %d (%s) still runs 2 s after the server's SIGKILL", pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
			}
			time.Sleep(20 * time.Millisecond) // polling an unrelated process
		}
	}
}
