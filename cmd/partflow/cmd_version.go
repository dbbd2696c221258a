package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is the release version, set at build time with
// -ldflags "-X main.version=v1.2.3".
var version = "dev"

// buildVersion returns version, or the module version recorded in the
// binary when it was built with `go install module@version`.
func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

// version prints the version and the Go toolchain.
func (c *cli) version(_ context.Context, args []string) int {
	fs := c.flagSet("version")
	if code := c.parse(fs, args); code >= 0 {
		return code
	}
	if _, err := fmt.Fprintf(c.stdout, "partflow %s (%s %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH); err != nil {
		return exitError
	}
	return exitOK
}
