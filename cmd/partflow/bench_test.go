package main

import (
	"strings"
	"testing"
)

// TestBenchFlags checks that bench and bench-events refuse bad flags with a
// usage error before touching the network (the tool itself is tested in
// package loadtest).
func TestBenchFlags(t *testing.T) {
	key := []string{"PARTFLOW_BENCH_KEY=k"}
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"bench"}, nil, "PARTFLOW_BENCH_KEY"},
		{[]string{"bench", "--concurrency", "1,x"}, key, `"x" is not a number`},
		{[]string{"bench", "--concurrency", "0"}, key, `"0" is not a number`},
		{[]string{"bench", "--duration", "11m"}, key, "--duration"},
		{[]string{"bench", "--server-pid", "abc"}, key, `"abc" is not a process id`},
		{[]string{"bench", "--url", ", ,"}, key, "--url needs a base URL"},
		{[]string{"bench-events"}, nil, "PARTFLOW_BENCH_KEY"},
		{[]string{"bench-events", "--clients", "0"}, key, "clients 1..2000"},
		{[]string{"bench-events", "--stream-encoding", "br"}, key, "stream-encoding gzip or identity"},
	} {
		code, _, errOut := runCmd(t, tc.args, tc.env, "")
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d naming %q", tc.args, code, errOut, exitUsage, tc.want)
		}
	}
}
