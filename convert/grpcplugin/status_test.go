package grpcplugin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/partflow/partflow/convert"
)

// TestStatusRoundTrip sends each error that crosses the process boundary
// through toStatus (plugin side) and fromStatus (host side): the host gets
// the same sentinel back.
func TestStatusRoundTrip(t *testing.T) {
	cases := []struct {
		sent error
		want []error
	}{
		{convert.ErrUnsupportedFormat, []error{convert.ErrUnsupportedFormat}},
		{convert.ErrInvalidInput, []error{convert.ErrInvalidInput}},
		{convert.ErrTimeout, []error{convert.ErrTimeout}},
		{context.DeadlineExceeded, []error{convert.ErrTimeout}},
		{context.Canceled, []error{context.Canceled}},
		{convert.ErrUnavailable, []error{convert.ErrUnavailable}},
		{convert.ErrOutOfMemory, []error{convert.ErrOutOfMemory, convert.ErrCrashed}},
		{convert.ErrTooLarge, []error{convert.ErrTooLarge}},
		{fs.ErrNotExist, []error{fs.ErrNotExist}},
	}
	for _, tc := range cases {
		t.Run(tc.sent.Error(), func(t *testing.T) {
			got := fromStatus("p", toStatus(fmt.Errorf("converting: %w", tc.sent)))
			for _, w := range tc.want {
				if !errors.Is(got, w) {
					t.Errorf("got %v, want it to match %v", got, w)
				}
			}
		})
	}
	if got := fromStatus("p", toStatus(errors.New("odd"))); errors.Is(got, convert.ErrInvalidInput) || errors.Is(got, convert.ErrCrashed) {
		t.Errorf("an unknown error came back as a sentinel: %v", got)
	}
}
