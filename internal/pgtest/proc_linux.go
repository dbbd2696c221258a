package pgtest

import "syscall"

// sysProcAttr runs a server process as cred (nil: as this process) and
// has the kernel stop it if this process dies first.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
}
