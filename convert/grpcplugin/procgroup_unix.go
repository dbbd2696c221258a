//go:build unix

package grpcplugin

import (
	"os/exec"
	"syscall"
)

// isolate puts the plugin in its own process group, so that killing the
// group also ends any helper processes it started, and so that a terminal's
// Ctrl-C reaches only the host (which then closes its plugins).
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup sends SIGKILL to the plugin's process group.
func killGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}
