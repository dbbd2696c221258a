package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/partflow/partflow/storage"
	_ "github.com/partflow/partflow/storage/blobfiles" // the command's drivers: file://, mem://
	_ "github.com/partflow/partflow/storage/bunstore"  // sqlite://, postgres://
	_ "github.com/partflow/partflow/storage/s3files"   // s3://
)

// TestDatabaseURLUnknownSchemeListsKnown: an unknown database scheme gets
// the storage registry's error, naming the schemes it knows.
func TestDatabaseURLUnknownSchemeListsKnown(t *testing.T) {
	_, _, err := NormalizeDatabaseURL("mysql://h/db")
	if !errors.Is(err, storage.ErrUnknownScheme) {
		t.Fatalf("err = %v, want storage.ErrUnknownScheme", err)
	}
	for _, s := range storage.Schemes() {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not list known scheme %q", err, s)
		}
	}
	if len(storage.Schemes()) == 0 {
		t.Fatal("no storage schemes registered in the command")
	}
}

// TestFilesURLSchemesComeFromTheRegistry: files_url accepts a registered
// file store scheme as it is, and an unknown one gets the registry's error
// naming the schemes it knows.
func TestFilesURLSchemesComeFromTheRegistry(t *testing.T) {
	if got, err := NormalizeFilesURL("s3://bucket/prefix?region=eu-west-1"); err != nil || got != "s3://bucket/prefix?region=eu-west-1" {
		t.Errorf("s3 URL = %q, %v; want it unchanged", got, err)
	}
	if _, err := NormalizeFilesURL("s3:///no-bucket"); err == nil || !strings.Contains(err.Error(), "no bucket") {
		t.Errorf("s3 URL without a bucket: err = %v", err)
	}
	_, err := NormalizeFilesURL("ftp://h/dir")
	if !errors.Is(err, storage.ErrUnknownScheme) {
		t.Fatalf("err = %v, want storage.ErrUnknownScheme", err)
	}
	for _, s := range storage.FileSchemes() {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not list known scheme %q", err, s)
		}
	}
}
