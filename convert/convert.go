package convert

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"
)

// Sentinel errors returned (wrapped) by converters. Match them with errors.Is.
var (
	// ErrUnsupportedFormat means the converter (or registry) cannot convert
	// between the requested formats, or a format name or file extension is
	// not one this package knows. Across a plugin boundary it travels as
	// gRPC code UNIMPLEMENTED.
	ErrUnsupportedFormat = errors.New("unsupported format")

	// ErrInvalidInput means the input file is malformed, empty or contains
	// nothing to convert, or the request itself is invalid (empty path,
	// negative tolerance). Retrying the same request will fail again.
	// Across a plugin boundary it travels as gRPC code INVALID_ARGUMENT.
	ErrInvalidInput = errors.New("invalid input")

	// ErrTimeout means the conversion did not finish before its deadline.
	// A plugin host kills the plugin process and starts a fresh one for
	// the next call. Across a plugin boundary it travels as gRPC code
	// DEADLINE_EXCEEDED.
	ErrTimeout = errors.New("conversion timed out")

	// ErrCrashed means the converter's process died (or its connection
	// broke) while converting, for example on a segfault or after hitting
	// its memory limit. The host starts a fresh process for the next call;
	// the input may crash it again.
	ErrCrashed = errors.New("converter crashed")

	// ErrOutOfMemory means the converter ran out of memory on this input
	// (its address-space limit, or the machine's). A host reports it
	// together with ErrCrashed, so code that only knows crashes still
	// matches. Across a plugin boundary it travels as gRPC code
	// RESOURCE_EXHAUSTED.
	ErrOutOfMemory = errors.New("converter ran out of memory")

	// ErrTooLarge means the output would exceed a bound of the request
	// (Options.MaxTriangles, Options.MaxOutputBytes): the converter stopped
	// or refused the conversion before it grew any further. Retrying with
	// the same bound will fail again. Across a plugin boundary it travels
	// as gRPC code OUT_OF_RANGE.
	ErrTooLarge = errors.New("conversion output too large")

	// ErrUnavailable means the converter cannot take requests right now:
	// its process could not be started, it reported itself unavailable
	// (gRPC code UNAVAILABLE), or it has been closed. The input was not
	// judged; the same request may succeed later.
	ErrUnavailable = errors.New("converter unavailable")
)

// Format names a file format. Values are lower-case names without a dot.
type Format string

// The formats Partflow knows about.
const (
	FormatSTEP Format = "step" // ISO 10303-21 (AP203, AP214, AP242); extensions .step, .stp
	FormatIGES Format = "iges" // IGES; extensions .iges, .igs
	FormatSTL  Format = "stl"  // STL, binary or ASCII; extension .stl
	FormatGLB  Format = "glb"  // glTF 2.0 binary; extension .glb
)

// knownFormats lists every Format in a stable order; aliases maps the
// accepted spellings (without dot, lower-case) to them.
var (
	knownFormats = []Format{FormatSTEP, FormatIGES, FormatSTL, FormatGLB}
	aliases      = map[string]Format{
		"step": FormatSTEP, "stp": FormatSTEP, "p21": FormatSTEP,
		"iges": FormatIGES, "igs": FormatIGES,
		"stl": FormatSTL,
		"glb": FormatGLB,
	}
)

// Formats returns every known format in a stable order.
func Formats() []Format {
	return append([]Format(nil), knownFormats...)
}

// ParseFormat normalises a format name or extension such as "STEP", ".stp"
// or "igs" to a Format. It returns an error matching ErrUnsupportedFormat
// for anything else.
func ParseFormat(s string) (Format, error) {
	key := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "."))
	if f, ok := aliases[key]; ok {
		return f, nil
	}
	return "", fmt.Errorf("format %q: %w (known: %s)", s, ErrUnsupportedFormat, formatList(knownFormats))
}

// FormatFromPath detects the format from a file name's extension
// ("part.STP" is FormatSTEP). It does not look at the content. It returns an
// error matching ErrUnsupportedFormat when the extension is missing or
// unknown.
func FormatFromPath(path string) (Format, error) {
	ext := filepath.Ext(path)
	if ext == "" {
		return "", fmt.Errorf("file %q has no extension: %w", filepath.Base(path), ErrUnsupportedFormat)
	}
	f, err := ParseFormat(ext)
	if err != nil {
		return "", fmt.Errorf("file %q: %w", filepath.Base(path), err)
	}
	return f, nil
}

// Known reports whether f is one of the formats listed by Formats.
func (f Format) Known() bool {
	for _, k := range knownFormats {
		if f == k {
			return true
		}
	}
	return false
}

// Ext returns the canonical file extension with its dot, e.g. ".step".
func (f Format) Ext() string { return "." + string(f) }

// String returns the format name.
func (f Format) String() string { return string(f) }

// Conversion is one (from, to) pair a converter supports.
type Conversion struct {
	From Format
	To   Format
}

// String returns "from->to".
func (c Conversion) String() string { return string(c.From) + "->" + string(c.To) }

// Info describes a converter.
type Info struct {
	// Name identifies the converter, e.g. "cascadio" or "stl".
	Name string
	// Version is the converter's own version string (free form).
	Version string
	// Conversions lists the supported (from, to) pairs.
	Conversions []Conversion
}

// Supports reports whether the converter lists the conversion from -> to.
func (i Info) Supports(from, to Format) bool {
	for _, c := range i.Conversions {
		if c.From == from && c.To == to {
			return true
		}
	}
	return false
}

// Options tunes a conversion. A nil pointer means "the converter's default"
// (for cascadio: linear 0.01, angular 0.5, relative false, merge true).
// Converters ignore options that do not apply to them (STL has no
// tessellation to tune).
type Options struct {
	// LinearTolerance is the maximum chordal deviation of the tessellation,
	// in the input's length unit (or relative to the edge length when
	// RelativeTolerance is true). Must be finite and > 0 when set.
	LinearTolerance *float64
	// AngularTolerance is the maximum angle between neighbouring facets, in
	// radians. Must be finite and > 0 when set.
	AngularTolerance *float64
	// RelativeTolerance makes LinearTolerance relative to each edge's size.
	RelativeTolerance *bool
	// MergePrimitives merges the faces of each part into one primitive.
	MergePrimitives *bool
	// MaxTriangles bounds the output's triangle count and MaxOutputBytes its
	// size; nil means no bound. A converter may coarsen its tessellation to
	// stay within them; otherwise it fails with ErrTooLarge, preferably
	// before the work grows. Plugin hosts also check the result. Must be
	// > 0 when set.
	MaxTriangles   *int64
	MaxOutputBytes *int64
}

// Ptr returns a pointer to v, for filling in Options:
//
//	convert.Options{LinearTolerance: convert.Ptr(0.05)}
func Ptr[T any](v T) *T { return &v }

// Validate checks the tolerances and bounds. The error matches
// ErrInvalidInput.
func (o Options) Validate() error {
	check := func(name string, v *float64) error {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0) || *v <= 0) {
			return fmt.Errorf("%s must be a finite number > 0, got %v: %w", name, *v, ErrInvalidInput)
		}
		return nil
	}
	bound := func(name string, v *int64) error {
		if v != nil && *v <= 0 {
			return fmt.Errorf("%s must be > 0, got %d: %w", name, *v, ErrInvalidInput)
		}
		return nil
	}
	return errors.Join(check("linear tolerance", o.LinearTolerance), check("angular tolerance", o.AngularTolerance),
		bound("max triangles", o.MaxTriangles), bound("max output bytes", o.MaxOutputBytes))
}

// Request asks a converter to convert one file.
type Request struct {
	// InputPath is the file to read. The converter never modifies it.
	InputPath string
	// OutputPath is where the result is written; an existing file is
	// replaced. On failure nothing is left at OutputPath by a conforming
	// converter (it writes elsewhere and renames).
	OutputPath string
	// From and To are the input and output formats.
	From, To Format
	// Options tunes the conversion; the zero value means defaults.
	Options Options
}

// Validate checks that both paths are set, that they differ, and that the
// options are valid (errors match ErrInvalidInput), and that both formats are
// known (errors match ErrUnsupportedFormat). It does not touch the file
// system.
func (r Request) Validate() error {
	var errs []error
	if r.InputPath == "" {
		errs = append(errs, fmt.Errorf("empty input path: %w", ErrInvalidInput))
	}
	if r.OutputPath == "" {
		errs = append(errs, fmt.Errorf("empty output path: %w", ErrInvalidInput))
	}
	if r.InputPath != "" && filepath.Clean(r.InputPath) == filepath.Clean(r.OutputPath) {
		errs = append(errs, fmt.Errorf("input and output are the same file %q: %w", r.InputPath, ErrInvalidInput))
	}
	for _, f := range []Format{r.From, r.To} {
		if !f.Known() {
			errs = append(errs, fmt.Errorf("format %q: %w (known: %s)", string(f), ErrUnsupportedFormat, formatList(knownFormats)))
		}
	}
	errs = append(errs, r.Options.Validate())
	return errors.Join(errs...)
}

// Stats describes a finished conversion's output.
type Stats struct {
	// Triangles is the number of triangles stored in the output's meshes
	// (a mesh drawn by several nodes counts once).
	Triangles int64
	// Meshes is the number of meshes in the output.
	Meshes int64
	// Materials is the number of materials in the output.
	Materials int64
	// BBoxMin and BBoxMax bound the output's geometry in world space (node
	// transforms applied), in the output's units: metres for GLB made from
	// STEP/IGES; for STL the input's numbers unchanged.
	BBoxMin, BBoxMax [3]float64
	// OutputBytes is the size of the file written to OutputPath.
	OutputBytes int64
	// Duration is the wall time the conversion took, as measured by the
	// converter (for a plugin: by the host, including the process hop).
	Duration time.Duration
}

// Converter converts files between formats.
//
// Implementations must be safe for concurrent use. Convert must honour ctx
// (return promptly with an error matching ctx.Err() when it is cancelled),
// must leave nothing at OutputPath when it fails, and must report errors
// with the package's sentinel errors. convert/converttest checks all of this.
type Converter interface {
	// Info names the converter and lists the conversions it supports.
	Info(ctx context.Context) (Info, error)
	// Convert converts req.InputPath (format req.From) to req.OutputPath
	// (format req.To). It returns ErrUnsupportedFormat for a pair Info
	// does not list, ErrInvalidInput for a malformed input file, an error
	// matching fs.ErrNotExist when the input file does not exist, and
	// ErrTimeout, ErrCrashed or ErrUnavailable from out-of-process
	// converters.
	Convert(ctx context.Context, req Request) (*Stats, error)
}

func formatList(fs []Format) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}
