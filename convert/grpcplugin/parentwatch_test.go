//go:build linux

package grpcplugin_test

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// goneWithin polls /proc until pid has exited (or is a zombie nobody has
// reaped yet) or d passes. Polling is how one waits on an unrelated
// process.
func goneWithin(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		// The state follows the command name in parentheses.
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i+1:]), " Z") {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPluginExitsWhenItsHostDies starts the test plugin from a shell that
// stands in for a host which set no parent-death signal, SIGKILLs the
// shell, and checks that the plugin ends by itself within 2 s.
func TestPluginExitsWhenItsHostDies(t *testing.T) {
	sh := exec.Command("sh", "-c", `"$0" & echo "$!"; read -r _`, testPlugin)
	sh.Env = append(os.Environ(), "PARTFLOW_CONVERTER_PLUGIN=4b1f0c8e-partflow-converter-v1", "PLUGIN_PROTOCOL_VERSIONS=1")
	stdin, err := sh.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := sh.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	var pid int
	var handshake bool
	for !handshake && lines.Scan() {
		if n, err := strconv.Atoi(lines.Text()); err == nil {
			pid = n
		} else if strings.Count(lines.Text(), "|") >= 4 {
			handshake = true // the plugin is serving
		}
	}
	if pid == 0 || !handshake {
		t.Fatalf("no plugin PID (%d) or handshake (%t)", pid, handshake)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if err := sh.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = sh.Wait()
	if !goneWithin(pid, 2*time.Second) {
		t.Fatalf("plugin %d still runs 2 s after its host died", pid)
	}
}
