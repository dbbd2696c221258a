package grpcplugin

import (
	"fmt"
	"os"
	"time"
)

// watchParent ends a plugin process whose host has gone away: the
// fallback for hosts that set no parent-death signal and for platforms
// without one. When the host dies the plugin is re-parented (to PID 1 or a
// subreaper), so a changed parent PID means the host is gone; exit is then
// called, by default os.Exit(1), even in the middle of a conversion
// (nobody is left to receive its result). A plugin started by PID 1 itself
// cannot tell and is not watched. watchParent blocks; run it in a
// goroutine.
func watchParent(parent int, interval time.Duration, exit func()) {
	if parent <= 1 {
		return
	}
	if !parentDeathSignal(parent) {
		exit()
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != parent {
			exit()
			return
		}
	}
}

// exitOrphan is watchParent's exit for Serve.
func exitOrphan() {
	fmt.Fprintf(os.Stderr, `{"level":"WARN","msg":"the host process went away; exiting","pid":%d}`+"\n", os.Getpid())
	os.Exit(1)
}
