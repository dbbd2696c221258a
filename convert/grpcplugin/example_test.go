package grpcplugin_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/convert/grpcplugin"
)

// A host opens each plugin once at start-up, registers it, and closes it on
// shutdown.
func ExampleOpen() {
	ctx := context.Background()
	stl, err := grpcplugin.Open(ctx, grpcplugin.Config{
		Name:     "stl",
		Command:  []string{"/usr/libexec/partflow/stl"},
		PoolSize: 2,
		Timeout:  30 * time.Second,
		Logger:   slog.Default(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stl.Close()

	reg := convert.NewRegistry()
	if err := reg.Register(ctx, stl); err != nil {
		fmt.Println(err)
		return
	}
	stats, err := reg.Convert(ctx, convert.Request{
		InputPath:  "/srv/partflow/uploads/42/bracket.stl",
		OutputPath: "/srv/partflow/previews/42.glb",
		From:       convert.FormatSTL,
		To:         convert.FormatGLB,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(stats.Triangles, "triangles")
}
