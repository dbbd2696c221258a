// Command stl is Partflow's STL to GLB converter plugin. It speaks the
// converter contract (convert/proto/converter.proto) through
// hashicorp/go-plugin and is started by a host with grpcplugin.Open; run by
// hand it prints a notice and exits.
//
// Build it with `go build ./plugins/stl`. The conversion itself lives in
// plugins/stl/stlconv, which also works in process.
package main

import (
	"github.com/partflow/partflow/convert/grpcplugin"
	"github.com/partflow/partflow/plugins/stl/stlconv"
)

func main() {
	grpcplugin.Serve(stlconv.New())
}
