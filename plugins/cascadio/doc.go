// Package cascadio holds the Go-side tests and benchmarks of the cascadio
// converter plugin, which is written in Python (src/partflow_cascadio, see
// README.md). The tests start the real plugin process through
// grpcplugin.Open with the virtualenv that `make venv` creates, convert the
// project's STEP box (internal/fixtures) and, when it is beside the
// repository, every STEP sample in ../shared/testdata/cad, and check the GLB
// files; BenchmarkCascadio compares the plugin with calling
// cascadio directly (bench_direct.py) in the same run.
//
// The package has no Go code of its own to import.
package cascadio
