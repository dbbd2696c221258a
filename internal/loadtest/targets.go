package loadtest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

// The load tool spreads requests over several replicas (--url a,b) and
// reports the servers' CPU time per request (--server-pid p,q).

// targets are the base URLs requests go to, in turn.
type targets struct {
	bases []string
	next  atomic.Uint64
}

// SplitURLs splits a comma-separated list of base URLs, dropping empty
// entries and trailing slashes.
func SplitURLs(list string) []string {
	var out []string
	for _, u := range strings.Split(list, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// pick returns the next base URL, round robin.
func (t *targets) pick() string {
	return t.bases[(t.next.Add(1)-1)%uint64(len(t.bases))]
}

// target is the base URL of the next request: b.to's next, or b.base.
func (b *loadRun) target() string {
	if b.to == nil || len(b.to.bases) == 0 {
		return b.base
	}
	return b.to.pick()
}

// ParsePIDs splits a comma-separated list of process ids ("" or "0": none).
func ParsePIDs(list string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" || s == "0" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--server-pid: %q is not a process id", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat times.
const clockTicks = 100

// cpuSeconds returns the user+system CPU time the processes used so far,
// from /proc/<pid>/stat (fields 14 and 15), or -1 when one cannot be read.
func cpuSeconds(pids []int) float64 {
	total := 0.0
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return -1
		}
		// The command name (field 2) may hold spaces: count after its ')'.
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b)[i+1:])
		if len(f) < 13 {
			return -1
		}
		u, err1 := strconv.ParseFloat(f[11], 64)
		s, err2 := strconv.ParseFloat(f[12], 64)
		if err1 != nil || err2 != nil {
			return -1
		}
		total += (u + s) / clockTicks
	}
	return total
}

// memoryLines returns each process's VmRSS and VmHWM lines.
func memoryLines(pids []int) []string {
	var out []string
	for _, pid := range pids {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(line, "VmRSS") || strings.HasPrefix(line, "VmHWM") {
				out = append(out, fmt.Sprintf("server %d %s", pid, strings.Join(strings.Fields(line), " ")))
			}
		}
	}
	return out
}
