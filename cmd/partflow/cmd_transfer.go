package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/partflow/partflow/internal/config"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage"
	"github.com/partflow/partflow/storage/bunstore"
	"github.com/partflow/partflow/storage/transfer"
)

// copyCmd copies a whole deployment between stores: partflow copy --from
// URL --to URL [--files-from URL --files-to URL].
func (c *cli) copyCmd(ctx context.Context, args []string) int {
	fs := c.flagSet("copy")
	var in copyInput
	fs.StringVar(&in.from, "from", "", "source database URL (sqlite://..., postgres://...)")
	fs.StringVar(&in.to, "to", "", "target database URL")
	fs.StringVar(&in.filesFrom, "files-from", "", "source file store URL (file://..., s3://...)")
	fs.StringVar(&in.filesTo, "files-to", "", "target file store URL")
	batch := fs.Int("batch", 1000, "rows per transaction")
	if code := c.parse(fs, args); code >= 0 {
		return code
	}
	if in.from == "" || in.to == "" || (in.filesFrom == "") != (in.filesTo == "") {
		c.errorf("copy: want --from and --to, and --files-from with --files-to (or neither)")
		return exitUsage
	}
	rep, err := copyDeployment(ctx, in, &transfer.Options{Progress: c.stderr, BatchSize: *batch})
	if err != nil {
		c.errorf("copy: %v", err)
		return exitError
	}
	c.printReport("copied", rep)
	return exitOK
}

// copyInput names the stores of a copy: databases, and file stores or none.
type copyInput struct {
	from, to, filesFrom, filesTo string
}

// copyDeployment opens the stores named in in and copies the deployment from
// the first database (and file store) to the second with transfer.Copy.
func copyDeployment(ctx context.Context, in copyInput, opts *transfer.Options) (*transfer.Report, error) {
	src, err := openBunstore(ctx, in.from)
	if err != nil {
		return nil, fmt.Errorf("--from: %w", err)
	}
	defer src.Close()
	dst, err := openBunstore(ctx, in.to)
	if err != nil {
		return nil, fmt.Errorf("--to: %w", err)
	}
	defer dst.Close()
	var srcFiles, dstFiles parts.FileStore
	if in.filesFrom != "" {
		var closeFiles func()
		srcFiles, dstFiles, closeFiles, err = openFilePair(ctx, in.filesFrom, in.filesTo)
		if err != nil {
			return nil, err
		}
		defer closeFiles()
	}
	rep, err := transfer.Copy(ctx, dst, src, dstFiles, srcFiles, opts)
	if err != nil {
		return nil, fmt.Errorf("%w (run it again to resume)", err)
	}
	return rep, nil
}

// printReport prints what a copy or restore did and what it verified.
func (c *cli) printReport(verb string, rep *transfer.Report) {
	for _, t := range rep.Tables {
		fmt.Fprintf(c.stdout, "%s %d rows of %s; verified %d rows, sha256 %s\n", verb, rep.Copied[t.Table], t.Table, t.Rows, t.SHA256)
	}
	if rep.Files != nil {
		fmt.Fprintf(c.stdout, "%s %d files; verified the sha256 of %d files\n", verb, rep.Copied["files"], len(rep.Files))
	}
}

// openBunstore opens a database URL in any of the configured forms.
func openBunstore(ctx context.Context, raw string) (*bunstore.Store, error) {
	dsn, path, err := config.NormalizeDatabaseURL(raw)
	if err != nil {
		return nil, err
	}
	if path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
	}
	return bunstore.Open(ctx, dsn, nil)
}

// openFilePair opens two file stores.
func openFilePair(ctx context.Context, from, to string) (src, dst parts.FileStore, closeAll func(), err error) {
	var opened []parts.FileStore
	closeAll = func() {
		for _, f := range opened {
			if c, ok := f.(interface{ Close() error }); ok {
				c.Close()
			}
		}
	}
	for _, u := range []string{from, to} {
		dsn, err := config.NormalizeFilesURL(u)
		if err == nil {
			var f parts.FileStore
			if f, err = storage.OpenFiles(ctx, dsn); err == nil {
				opened = append(opened, f)
				continue
			}
		}
		closeAll()
		return nil, nil, nil, fmt.Errorf("file store %s: %w", config.RedactDSN(u), err)
	}
	return opened[0], opened[1], closeAll, nil
}

// backup writes an archive of the configured deployment to PATH.
func (c *cli) backup(ctx context.Context, args []string) int {
	a, path, code := c.openForArchive(ctx, "backup", args, nil)
	if code >= 0 {
		return code
	}
	defer a.Close()
	m, err := writeBackup(ctx, path, a, c.stderr)
	if err != nil {
		c.errorf("backup: %v", err)
		return exitError
	}
	for _, t := range m.Tables {
		fmt.Fprintf(c.stdout, "backed up %d rows of %s (sha256 %s)\n", t.Rows, t.Table, t.SHA256)
	}
	fmt.Fprintf(c.stdout, "backed up %d files to %s\n", len(m.Files), path)
	return exitOK
}

// writeBackup writes an archive of a's stores to path through a
// temporary file beside it, synced and renamed into place, so path never
// holds a partial archive. progress gets transfer's progress lines.
func writeBackup(ctx context.Context, path string, a *app, progress io.Writer) (*transfer.Manifest, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".partflow-backup-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	m, err := transfer.Backup(ctx, tmp, a.store.(*bunstore.Store), a.files, &transfer.Options{Progress: progress})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return m, err
}

// restore restores an archive into the configured deployment.
func (c *cli) restore(ctx context.Context, args []string) int {
	var force bool
	a, path, code := c.openForArchive(ctx, "restore", args, func(fs flagSet) {
		fs.BoolVar(&force, "force", false, "restore into a store that holds data already (rows whose ids it has are kept)")
	})
	if code >= 0 {
		return code
	}
	defer a.Close()
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	rep, err := transfer.Restore(ctx, open, a.store.(*bunstore.Store), a.files, &transfer.Options{Progress: c.stderr, Force: force})
	if errors.Is(err, transfer.ErrNotEmpty) {
		c.errorf("restore: %v (--force)", err)
		return exitError
	}
	if err != nil {
		c.errorf("restore: %v", err)
		return exitError
	}
	c.printReport("restored", rep)
	return exitOK
}

// flagSet is the part of pflag.FlagSet the archive commands add flags with.
type flagSet interface {
	BoolVar(p *bool, name string, value bool, usage string)
}

// openForArchive parses PATH and the configuration flags of backup or
// restore and opens the configured deployment. It returns -1 to go on, or
// an exit code.
func (c *cli) openForArchive(ctx context.Context, name string, args []string, extra func(flagSet)) (*app, string, int) {
	fs := c.flagSet(name)
	config.AddFlags(fs)
	if extra != nil {
		extra(fs)
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		fmt.Fprintf(c.stdout, "Usage of %s PATH:\n%s", fs.Name(), fs.FlagUsages())
		return nil, "", exitOK
	case err != nil:
		fmt.Fprintf(c.stderr, "%s: %v\n", fs.Name(), err)
		return nil, "", exitUsage
	case fs.NArg() != 1:
		c.errorf("%s: want the archive's path: partflow %s [flags] PATH", name, name)
		return nil, "", exitUsage
	}
	path := fs.Arg(0)
	cfg, err := config.LoadFlags(fs, c.environ, c.stderr)
	if err != nil {
		c.errorf("%v", err)
		return nil, "", exitUsage
	}
	a, err := openApp(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		c.errorf("%s: %v", name, err)
		return nil, "", exitError
	}
	if _, ok := a.store.(*bunstore.Store); !ok {
		a.Close()
		c.errorf("%s: the configured store does not support archives", name)
		return nil, "", exitError
	}
	return a, path, -1
}
