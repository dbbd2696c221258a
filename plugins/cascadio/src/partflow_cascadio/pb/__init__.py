"""Generated protobuf and gRPC stubs.

converter_pb2*: the Partflow converter contract, from convert/proto/converter.proto
(regenerate with convert/proto/generate.sh).
grpc_controller_pb2*: go-plugin's plugin.GRPCController service, from
plugins/cascadio/proto/grpc_controller.proto (regenerate with plugins/cascadio/generate.sh).
"""
