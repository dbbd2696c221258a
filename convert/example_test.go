package convert_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/partflow/partflow/convert"
)

// A host registers every converter it has (in-process ones or plugins opened
// with grpcplugin.Open) and dispatches by format.
func ExampleRegistry() {
	ctx := context.Background()
	reg := convert.NewRegistry()
	stl := newFake("stl", convert.Conversion{From: convert.FormatSTL, To: convert.FormatGLB})
	if err := reg.Register(ctx, stl); err != nil {
		fmt.Println(err)
		return
	}

	from, err := convert.FormatFromPath("uploads/bracket.STL")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = reg.Convert(ctx, convert.Request{
		InputPath:  "uploads/bracket.STL",
		OutputPath: "previews/bracket.glb",
		From:       from,
		To:         convert.FormatGLB,
	})
	fmt.Println("stl:", err)

	_, err = reg.Lookup(convert.FormatSTEP, convert.FormatGLB)
	fmt.Println("step unsupported:", errors.Is(err, convert.ErrUnsupportedFormat))
	fmt.Println(err)
	// Output:
	// stl: <nil>
	// step unsupported: true
	// no converter from "step" to "glb": unsupported format (registered: stl->glb)
}
