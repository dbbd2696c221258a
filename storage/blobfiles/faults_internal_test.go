package blobfiles

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"syscall"
	"testing"

	"github.com/partflow/partflow/parts"
)

func TestFaultNamesStorageErrors(t *testing.T) {
	full := &fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}
	if runtime.GOOS == "linux" {
		// A real "no space left on device" from the kernel.
		f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, werr := f.Write([]byte("x"))
		f.Close()
		if !errors.Is(werr, syscall.ENOSPC) {
			t.Fatalf("writing /dev/full: %v", werr)
		}
		full = werr.(*fs.PathError)
	}
	tests := []struct {
		err   error
		fault error
		msg   string
	}{
		{fmt.Errorf("blobfiles: put: %w", full), parts.ErrStorageFull, "the file store is full"},
		{&fs.PathError{Op: "open", Path: "x", Err: syscall.EDQUOT}, parts.ErrStorageFull, "the file store is full"},
		{&fs.PathError{Op: "open", Path: "x", Err: syscall.EROFS}, parts.ErrStorageReadOnly, "the file store is read-only"},
		{&fs.PathError{Op: "open", Path: "x", Err: syscall.EACCES}, parts.ErrStorageReadOnly, "the file store is read-only"},
	}
	for _, tt := range tests {
		got := fault(tt.err)
		if !errors.Is(got, tt.fault) || got.Error() != tt.msg || !errors.Is(got, tt.err) {
			t.Errorf("fault(%v) = %v, want %v (%q) wrapping the cause", tt.err, got, tt.fault, tt.msg)
		}
	}
	other := errors.New("boom")
	if fault(other) != other || fault(nil) != nil {
		t.Error("other errors must pass unchanged")
	}
}
