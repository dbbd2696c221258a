// Package convertpb is the Go code generated from converter.proto, the
// contract every Partflow converter plugin serves (see convert/grpcplugin for
// the Go host and plugin glue). Do not edit converter.pb.go or
// converter_grpc.pb.go: change converter.proto and run
// convert/proto/generate.sh, which regenerates the Go and Python stubs.
package convertpb
