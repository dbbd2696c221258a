//go:build unix

package grpcplugin

import (
	"os/exec"
	"syscall"
)

// isolate puts the plugin in its own process group, so that killing the
// group also ends any helper processes it started, and so that a terminal's
// Ctrl-C reaches only the host (which then closes its plugins). On Linux it
// also asks the kernel to SIGKILL the plugin when the host dies, even by
// SIGKILL (see dieWithParent).
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithParent(cmd.SysProcAttr)
}

// killGroup sends SIGKILL to the plugin's process group.
func killGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}
