package grpcplugin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/partflow/partflow/convert"
	convertpb "github.com/partflow/partflow/convert/proto"
)

// Handshake is the go-plugin handshake every Partflow converter plugin, in
// any language, must answer: protocol version 1 and the environment variable
// PARTFLOW_CONVERTER_PLUGIN set to the value below. It is a guard against
// running a random binary as a plugin, not a security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "PARTFLOW_CONVERTER_PLUGIN",
	MagicCookieValue: "4b1f0c8e-partflow-converter-v1",
}

// PluginName is the name under which the converter service is dispensed.
const PluginName = "converter"

// grpcPlugin adapts the converter service to go-plugin.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl convert.Converter // set on the plugin side only
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	convertpb.RegisterConverterServer(s, &server{conv: p.impl})
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return convertpb.NewConverterClient(c), nil
}

func pluginSet(impl convert.Converter) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &grpcPlugin{impl: impl}}
}

// Serve runs conv as a go-plugin converter plugin and returns when the host
// closes it. Call it from a plugin program's main:
//
//	func main() { grpcplugin.Serve(stlconv.New()) }
//
// Run by hand (without the handshake environment) it prints a notice and
// exits with status 1.
//
// Logging: write JSON lines to os.Stderr, for example with
// slog.New(slog.NewJSONHandler(os.Stderr, nil)). go-plugin forwards the
// plugin's os.Stdout and os.Stderr to the host, which logs each line with
// its level and fields (it understands hclog's @level/@message keys and
// slog's level/msg keys). Output written straight to file descriptor 2,
// such as a Go panic, reaches the host too and is quoted in crash errors.
//
// conv's Convert receives paths inside the host's job directory and a
// context that is cancelled when the host gives up on the call.
//
// The plugin ends when its host dies, even by SIGKILL and in the middle of
// a conversion: on Linux the host sets a parent-death signal and Serve sets
// one too, and on every platform Serve exits (status 1) within about a
// quarter of a second of being re-parented.
func Serve(conv convert.Converter) {
	if os.Getenv(Handshake.MagicCookieKey) == Handshake.MagicCookieValue {
		go watchParent(os.Getppid(), parentPollInterval, exitOrphan)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         pluginSet(conv),
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}

// server is the plugin-side gRPC service.
type server struct {
	convertpb.UnimplementedConverterServer
	conv convert.Converter
}

func (s *server) Info(ctx context.Context, _ *convertpb.InfoRequest) (*convertpb.InfoResponse, error) {
	info, err := s.conv.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &convertpb.InfoResponse{Name: info.Name, Version: info.Version}
	for _, c := range info.Conversions {
		resp.Conversions = append(resp.Conversions, &convertpb.Conversion{From: string(c.From), To: string(c.To)})
	}
	return resp, nil
}

func (s *server) Convert(ctx context.Context, req *convertpb.ConvertRequest) (*convertpb.ConvertResponse, error) {
	stats, err := s.conv.Convert(ctx, requestFromPB(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return &convertpb.ConvertResponse{Stats: statsToPB(stats)}, nil
}

func requestFromPB(r *convertpb.ConvertRequest) convert.Request {
	req := convert.Request{
		InputPath:  r.GetInputPath(),
		OutputPath: r.GetOutputPath(),
		From:       convert.Format(r.GetInputFormat()),
		To:         convert.Format(r.GetOutputFormat()),
	}
	if o := r.GetOptions(); o != nil {
		req.Options = convert.Options{
			LinearTolerance:   o.LinearTolerance,
			AngularTolerance:  o.AngularTolerance,
			RelativeTolerance: o.RelativeTolerance,
			MergePrimitives:   o.MergePrimitives,
			MaxTriangles:      o.MaxTriangles,
			MaxOutputBytes:    o.MaxOutputBytes,
		}
	}
	return req
}

func optionsToPB(o convert.Options) *convertpb.ConvertOptions {
	return &convertpb.ConvertOptions{
		LinearTolerance:   o.LinearTolerance,
		AngularTolerance:  o.AngularTolerance,
		RelativeTolerance: o.RelativeTolerance,
		MergePrimitives:   o.MergePrimitives,
		MaxTriangles:      o.MaxTriangles,
		MaxOutputBytes:    o.MaxOutputBytes,
	}
}

func statsToPB(s *convert.Stats) *convertpb.Stats {
	if s == nil {
		return nil
	}
	return &convertpb.Stats{
		Triangles:   s.Triangles,
		Meshes:      s.Meshes,
		Materials:   s.Materials,
		BboxMin:     s.BBoxMin[:],
		BboxMax:     s.BBoxMax[:],
		OutputBytes: s.OutputBytes,
		DurationMs:  float64(s.Duration) / float64(time.Millisecond),
	}
}

func statsFromPB(s *convertpb.Stats) *convert.Stats {
	out := &convert.Stats{
		Triangles:   s.GetTriangles(),
		Meshes:      s.GetMeshes(),
		Materials:   s.GetMaterials(),
		OutputBytes: s.GetOutputBytes(),
		Duration:    time.Duration(s.GetDurationMs() * float64(time.Millisecond)),
	}
	copy(out.BBoxMin[:], s.GetBboxMin())
	copy(out.BBoxMax[:], s.GetBboxMax())
	return out
}

// statusErrors is the one table of the errors that cross the process
// boundary as gRPC codes: toStatus takes the first row whose error err
// matches, fromStatus the first row with the code.
var statusErrors = []struct {
	code codes.Code
	err  error
}{
	{codes.Unimplemented, convert.ErrUnsupportedFormat},
	{codes.InvalidArgument, convert.ErrInvalidInput},
	{codes.DeadlineExceeded, convert.ErrTimeout},
	{codes.DeadlineExceeded, context.DeadlineExceeded},
	{codes.Canceled, context.Canceled},
	{codes.Unavailable, convert.ErrUnavailable},
	// The plugin ran out of memory on this file (cascadio reports
	// std::bad_alloc this way): like a crash, it is the file's doing, and
	// fromStatus adds convert.ErrCrashed.
	{codes.ResourceExhausted, convert.ErrOutOfMemory},
	{codes.OutOfRange, convert.ErrTooLarge},
	{codes.NotFound, fs.ErrNotExist},
}

// toStatus maps a converter error to the gRPC status the host maps back.
func toStatus(err error) error {
	code := codes.Unknown
	for _, row := range statusErrors {
		if errors.Is(err, row.err) {
			code = row.code
			break
		}
	}
	return status.Error(code, err.Error())
}

// fromStatus maps a plugin's gRPC error (other than crashes and timeouts,
// which the host handles first) to the convert sentinels.
func fromStatus(name string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("plugin %s: %w", name, err)
	}
	for _, row := range statusErrors {
		switch {
		case row.code != st.Code():
		case row.code == codes.ResourceExhausted:
			return fmt.Errorf("plugin %s: %s: %w (%w)", name, st.Message(), row.err, convert.ErrCrashed)
		default:
			return fmt.Errorf("plugin %s: %s: %w", name, st.Message(), row.err)
		}
	}
	return fmt.Errorf("plugin %s: conversion failed (%s): %s", name, st.Code(), st.Message())
}
