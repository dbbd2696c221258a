package loadtest

import (
	"os"
	"testing"
	"time"
)

// TestCPUTimeReadsProcStat checks the server CPU figure of bench-events:
// this process's CPU time grows while it computes, an unknown process
// reads as 0, and the per-create figure divides by the creates.
func TestCPUTimeReadsProcStat(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc: bench-events reports no server CPU on this system")
	}
	if cpuTime(0) != 0 || cpuTime(1<<30) != 0 {
		t.Errorf("cpuTime of no process = %v, %v, want 0", cpuTime(0), cpuTime(1<<30))
	}
	pid := os.Getpid()
	start := cpuTime(pid)
	deadline := time.Now().Add(10 * time.Second)
	x := 0
	for cpuTime(pid) <= start && time.Now().Before(deadline) {
		for i := range 1 << 20 {
			x ^= i
		}
	}
	if got := cpuTime(pid); got <= start {
		t.Fatalf("CPU time stayed at %v while computing (%d)", got, x)
	}
	r := loadResult{rate: 2, creates: 4, cpu: 2 * time.Millisecond}
	if r.cpuPerCreate() != 500 || r.busy(4*time.Millisecond) != 0.5 {
		t.Errorf("cpuPerCreate %v µs, busy %v: want 500 µs and 0.5", r.cpuPerCreate(), r.busy(4*time.Millisecond))
	}
}
