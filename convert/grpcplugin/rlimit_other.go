//go:build !linux

package grpcplugin

// memoryLimitSupported reports whether limitMemory does anything here.
const memoryLimitSupported = false

// limitMemory does nothing outside Linux: Config.MemoryLimit is not applied.
func limitMemory(pid int, bytes int64) error { return nil }
