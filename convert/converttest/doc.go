// Package converttest is the conformance suite every convert.Converter
// should pass, in process or behind a plugin (compare go-cloud's drivertest
// and testing/fstest.TestFS).
//
// A converter's test calls RunConverter with a few input files it must
// convert and a few it must reject:
//
//	func TestConformance(t *testing.T) {
//		converttest.RunConverter(t, stlconv.New(), converttest.Fixtures{
//			Valid:   []string{"testdata/cube.stl"},
//			Invalid: []string{"testdata/truncated.stl"},
//		})
//	}
//
// The suite checks Info, unsupported and unknown formats
// (convert.ErrUnsupportedFormat), invalid input (convert.ErrInvalidInput,
// after which the converter must still work), a missing input
// (fs.ErrNotExist), a cancelled context (prompt return with an error
// matching context.Canceled or convert.ErrTimeout), that failures leave
// nothing at the output path, that valid inputs produce a GLB accepted by
// glb.Inspect whose counts, bounding box and size match the returned
// convert.Stats, and that concurrent conversions all succeed.
package converttest
