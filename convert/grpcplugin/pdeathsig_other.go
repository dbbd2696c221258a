//go:build !linux

package grpcplugin

import (
	"os"
	"syscall"
	"time"
)

// dieWithParent does nothing where the kernel has no parent-death signal;
// plugins watch their parent themselves (watchParent).
func dieWithParent(*syscall.SysProcAttr) {}

// parentDeathSignal only checks that the parent is still the same here.
func parentDeathSignal(parent int) bool { return os.Getppid() == parent }

// parentPollInterval is how often a plugin checks that its host is alive.
const parentPollInterval = 250 * time.Millisecond
