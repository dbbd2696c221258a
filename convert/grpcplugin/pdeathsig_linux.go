//go:build linux

package grpcplugin

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dieWithParent sets the parent-death signal of a process about to start:
// the kernel sends it SIGKILL when the thread that started it exits, which
// for a Go host means when the host process dies (Go threads live as long
// as the process). Plugins also watch their parent themselves
// (watchParent), for hosts that did not set this.
func dieWithParent(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGKILL
}

// parentDeathSignal asks the kernel to SIGKILL this process when its
// parent dies, for plugins whose host did not ask already. It returns
// false if the parent is already gone (the signal would never come).
func parentDeathSignal(parent int) bool {
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0)
	return os.Getppid() == parent
}

// parentPollInterval is how often a plugin checks that its host is alive.
const parentPollInterval = 250 * time.Millisecond
