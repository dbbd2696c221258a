//go:build linux

package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	waitGone(t, kids, 2*time.Second)
}

// waitGone fails the test unless every process in pids has exited within d
// of the server's SIGKILL.
func waitGone(t *testing.T, pids []int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for _, pid := range pids {
		for !processGone(pid) {
			if time.Now().After(deadline) {
				cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
				t.Fatalf("plugin process %d (%s) still runs %s after the server's SIGKILL", pid, strings.ReplaceAll(string(cmdline), "\x00", " "), d)
			}
			time.Sleep(20 * time.Millisecond) // polling an unrelated process
		}
	}
}

// crash SIGKILLs a server and waits until it and its plugin processes are
// gone (the kernel kills the plugins with their host, but a dying process
// can still accept connections on its socket for a moment, and a sweep
// that ran then would keep its directory as a live host's).
func crash(t *testing.T, s *server) {
	t.Helper()
	kids := childPIDs(t, s.cmd.Process.Pid)
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.done
	waitGone(t, kids, 10*time.Second)
}

// unixSockets lists the unix sockets under dir, at any depth.
func unixSockets(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeSocket != 0 {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// TestPluginSocketsAreSweptAfterTheHostDies runs the real binary with two
// Go plugin processes and checks that their unix sockets are in the data
// folder's tmp (none in the system's temporary directory), that a SIGKILL
// of the server leaves them there, and that a restarted server's sweep
// removes the dead run's while its own plugins start beside them.
func TestPluginSocketsAreSweptAfterTheHostDies(t *testing.T) {
	bin := buildBinary(t)
	stl := filepath.Join(t.TempDir(), "partflow-stl")
	if out, err := exec.Command("go", "build", "-o", stl, "../../plugins/stl").CombinedOutput(); err != nil {
		t.Fatalf("build the STL plugin: %v\n%s", err, out)
	}
	// Short, unlike t.TempDir(), so the sockets fit under the data folder.
	dir, err := os.MkdirTemp("", "pfs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sysTmp := filepath.Join(dir, "systmp")
	if err := os.Mkdir(sysTmp, 0o700); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "data", "tmp")
	env := []string{"PARTFLOW_ENV=development", "TMPDIR=" + sysTmp,
		`PARTFLOW_PLUGINS=[{"name":"stl","command":["` + stl + `"],"formats":["stl"],"pool_size":2}]`}
	s := startServer(t, bin, dir, env)
	dead := unixSockets(work)
	if len(dead) != 2 {
		t.Fatalf("plugin sockets under %s: %v, want one per process (2)", work, dead)
	}
	kids := childPIDs(t, s.cmd.Process.Pid)
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.done
	waitGone(t, kids, 2*time.Second)
	for _, sock := range dead {
		if _, err := os.Lstat(sock); err != nil {
			t.Fatalf("socket %s went with the crash (%v): nothing left to sweep", sock, err)
		}
	}
	s2 := startServer(t, bin, dir, append(env, "PARTFLOW_GC__GRACE=1ms"))
	waitFor(t, 20*time.Second, "the sweep of the dead run's sockets", func() bool {
		for _, sock := range dead {
			if _, err := os.Lstat(filepath.Dir(sock)); err == nil {
				return false
			}
		}
		return true
	})
	live := unixSockets(work)
	if len(live) != 2 || slices.ContainsFunc(live, func(s string) bool { return slices.Contains(dead, s) }) {
		t.Errorf("sockets after the restart %v, want the new run's two (the dead run's were %v)", live, dead)
	}
	if left, _ := os.ReadDir(sysTmp); len(left) != 0 {
		t.Errorf("left in the system's temporary directory: %v", left)
	}
	s2.stop(t)
	if left := unixSockets(work); len(left) != 0 {
		t.Errorf("sockets after a clean stop: %v", left)
	}
}
