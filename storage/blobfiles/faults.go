package blobfiles

import (
	"errors"
	"syscall"

	"github.com/partflow/partflow/parts"
)

// storeName names the file store in storage faults.
const storeName = "the file store"

// fault turns a write error caused by the storage itself into a
// *parts.StorageError (full: no space or quota; read-only: a read-only file
// system or lost permissions), and returns other errors unchanged.
func fault(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EFBIG):
		return &parts.StorageError{Store: storeName, Fault: parts.ErrStorageFull, Err: err}
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return &parts.StorageError{Store: storeName, Fault: parts.ErrStorageReadOnly, Err: err}
	}
	return err
}
