package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"

	"github.com/partflow/partflow/internal/config"
	"github.com/partflow/partflow/onshape"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage"

	_ "github.com/partflow/partflow/storage/blobfiles"         // file://, mem:// file stores
	_ "github.com/partflow/partflow/storage/bunstore"          // sqlite:// part stores
	_ "github.com/partflow/partflow/storage/bunstore/pgengine" // postgres://, postgresql:// part stores
	_ "github.com/partflow/partflow/storage/s3files"           // s3:// file stores
)

// app is the library wired to the configured drivers: what serve and the
// data commands (seed, import-flask, gc, migrate) work on.
type app struct {
	store parts.Store
	files parts.FileStore
	svc   *parts.Service
	log   *slog.Logger
}

// wrapFiles, when set, wraps the opened file store. Only test builds set
// it (failpoint.go, build tag failpoint); it is nil in release builds.
var wrapFiles func(parts.FileStore) parts.FileStore

// migrator is the optional capability of stores with schema migrations.
type migrator interface {
	Migrate(ctx context.Context) ([]string, error)
}

// openQuiet is openApp for a command that prints its own output: the
// Service's logs are discarded and an error is reported to the user.
func (c *cli) openQuiet(ctx context.Context, cfg *config.Config) (*app, bool) {
	a, err := openApp(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		c.errorf("%v", err)
		return nil, false
	}
	return a, true
}

// openApp opens the configured store and file store and builds the Service.
// convs, when not nil, are the running converter plugins the Service
// converts CAD files with.
func openApp(ctx context.Context, cfg *config.Config, log *slog.Logger, convs *converters) (*app, error) {
	if dir := cfg.DataDir(); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	store, err := storage.Open(ctx, cfg.DatabaseDSN(), &storage.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("database_url: open %s: %w", config.RedactDSN(cfg.DatabaseDSN()), err)
	}
	files, err := storage.OpenFiles(ctx, cfg.FilesDSN())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("files_url: open %s: %w", config.RedactDSN(cfg.FilesDSN()), err), store.Close())
	}
	if wrapFiles != nil {
		files = wrapFiles(files)
	}
	uploads := parts.UploadOptions{MaxSize: int64(cfg.MaxFileSize), Extensions: slices.Clone(cfg.AllowedExtensions),
		GCGrace: cfg.GC.Grace}
	conv := parts.ConvertOptions{WorkDir: cfg.WorkDir()}
	if n := cfg.Convert.MaxTriangles; n > 0 {
		conv.Options.MaxTriangles = &n
	}
	if n := int64(cfg.Convert.MaxOutputBytes); n > 0 {
		conv.Options.MaxOutputBytes = &n
	}
	if convs != nil {
		conv.Converters = convs.reg // an STL converter makes .stl uploadable (parts.UploadOptions.Extensions)
		conv.Owner, conv.Lease, conv.OnConversion = convs.owner, convs.lease, convs.onConversion
	}
	if err := uploads.Validate(); err != nil {
		return nil, errors.Join(fmt.Errorf("allowed_extensions / max_file_size: %w", err), store.Close())
	}
	events := parts.EventOptions{Poll: cfg.Events.Poll, MaxAge: cfg.Events.MaxAge, MaxCount: cfg.Events.MaxCount}
	svc := parts.NewService(store, &parts.Options{Logger: log, Files: files, Uploads: uploads, Convert: conv,
		Workflow: cfg.WorkflowValue(), Events: events, Drawings: drawings(cfg)})
	return &app{store: store, files: files, svc: svc, log: log}, nil
}

// Close closes the stores.
func (a *app) Close() error {
	var errs []error
	if c, ok := a.files.(interface{ Close() error }); ok {
		errs = append(errs, c.Close())
	}
	errs = append(errs, a.store.Close())
	return errors.Join(errs...)
}

// drawings returns the Onshape drawing source, or nil without API keys
// (the Service then serves only drawings already stored).
func drawings(cfg *config.Config) parts.DrawingSource {
	if cfg.Onshape.AccessKey == "" || cfg.Onshape.SecretKey == "" {
		return nil
	}
	return onshape.New(onshape.Options{BaseURL: cfg.Onshape.BaseURL, AccessKey: cfg.Onshape.AccessKey, SecretKey: cfg.Onshape.SecretKey})
}
