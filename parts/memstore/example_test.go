package memstore_test

import (
	"context"
	"fmt"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/parts/memstore"
)

// A test of code that embeds the library runs a real Service on memory.
func ExampleNew() {
	ctx := context.Background()
	svc := parts.NewService(memstore.New(nil), nil)
	p, err := svc.CreatePart(ctx, &parts.Part{PartID: "DRV-001", Type: parts.TypeCNC, Material: "6061", Subsystem: "Drive"}, "test")
	if err != nil {
		panic(err)
	}
	p, err = svc.Act(ctx, p.ID, parts.ActionApprove, parts.ActionInput{Reviewer: "Rita"})
	fmt.Println(p.PartID, p.Category, err)
	// Output: DRV-001 cnc <nil>
}
