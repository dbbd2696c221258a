//go:build !unix

package grpcplugin

import "os/exec"

// isolate does nothing outside Unix.
func isolate(*exec.Cmd) {}

// killGroup does nothing outside Unix; the process itself is still killed.
func killGroup(int) {}
