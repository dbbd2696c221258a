package onshape_test

import (
	"errors"
	"testing"

	"github.com/partflow/partflow/onshape"
	"github.com/partflow/partflow/parts"
)

// TestFetchDrawingRefusesURLsNamingNoDrawing: only the IDs of a drawing
// URL are used; anything else is the part's invalid onshapeUrl, found
// before any request (the base URL here would refuse every connection).
func TestFetchDrawingRefusesURLsNamingNoDrawing(t *testing.T) {
	c := onshape.New(onshape.Options{BaseURL: "http://127.0.0.1:1"})
	for _, u := range []string{"", "https://cad.onshape.com/", "https://cad.onshape.com/documents/abc/x/def/e/012",
		"https://cad.onshape.com/documents/ab$c/w/def/e/012", "://"} {
		_, _, err := c.FetchDrawing(t.Context(), &parts.Part{OnshapeURL: u})
		var ve *parts.ValidationError
		if !errors.As(err, &ve) || ve.Field != "onshapeUrl" {
			t.Errorf("%q: %v, want a ValidationError of onshapeUrl", u, err)
		}
	}
}

// TestFetchDrawingUnreachableIsUpstream: a failed connection is Onshape
// failing (parts.ErrUpstream), never a 500.
func TestFetchDrawingUnreachableIsUpstream(t *testing.T) {
	c := onshape.New(onshape.Options{BaseURL: "http://127.0.0.1:1"})
	_, _, err := c.FetchDrawing(t.Context(), &parts.Part{OnshapeURL: "https://cad.onshape.com/documents/0123abcd/w/4567ef/e/89ab"})
	if !errors.Is(err, parts.ErrUpstream) {
		t.Fatalf("err = %v, want ErrUpstream", err)
	}
}
