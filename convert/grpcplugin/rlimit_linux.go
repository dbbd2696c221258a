//go:build linux

package grpcplugin

import "golang.org/x/sys/unix"

// memoryLimitSupported reports whether limitMemory does anything here.
const memoryLimitSupported = true

// limitMemory caps the address space (RLIMIT_AS, soft and hard) of process
// pid at bytes with prlimit(2).
func limitMemory(pid int, bytes int64) error {
	lim := unix.Rlimit{Cur: uint64(bytes), Max: uint64(bytes)}
	return unix.Prlimit(pid, unix.RLIMIT_AS, &lim, nil)
}
