// Package convert defines how Partflow turns CAD files into viewable meshes.
//
// A [Converter] reads the file at [Request].InputPath and writes the
// converted file to [Request].OutputPath. Files travel as paths, never as
// in-memory blobs, so a converter may run in this process (any type
// implementing Converter, for example the STL converter in
// plugins/stl/stlconv) or in a separate plugin process (see
// convert/grpcplugin, whose *Plugin also implements Converter).
//
// Formats are lower-case names without a dot ([FormatSTEP], [FormatIGES],
// [FormatSTL], [FormatGLB]); [ParseFormat] and [FormatFromPath] normalise
// user input and file extensions.
//
// Failures are reported with the sentinel errors [ErrUnsupportedFormat],
// [ErrInvalidInput], [ErrTimeout], [ErrCrashed] and [ErrUnavailable]; match
// them with errors.Is. A cancelled context is reported with an error that
// matches context.Canceled (or context.DeadlineExceeded and ErrTimeout).
//
// A [Registry] maps (from, to) pairs to converters so that a caller can ask
// "who turns STEP into GLB?" without knowing which plugin does it.
//
// This package imports only the standard library. The conformance suite that
// every Converter should pass lives in convert/converttest; a GLB writer and
// validator lives in convert/glb.
package convert
