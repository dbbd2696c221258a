package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/internal/config"
)

// convertCmd is `partflow convert IN OUT [--plugin NAME]`: an offline
// conversion through the configured plugins, with a progress line.
func (c *cli) convertCmd(ctx context.Context, args []string) int {
	fs := c.flagSet("convert")
	config.AddFlags(fs)
	only := fs.String("plugin", "", "use this configured plugin (default: the one for the input's format)")
	if err := fs.Parse(args); err != nil {
		return c.parse(fs, args)
	}
	if fs.NArg() != 2 {
		c.errorf("usage: partflow convert IN OUT [--plugin NAME]")
		return exitUsage
	}
	in, out := fs.Arg(0), fs.Arg(1)
	cfg, err := config.LoadFlags(fs, c.environ, c.stderr)
	if err != nil {
		c.errorf("%v", err)
		return exitUsage
	}
	from, err := convert.FormatFromPath(in)
	if err != nil {
		c.errorf("convert: %v", err)
		return exitUsage
	}
	to, err := convert.FormatFromPath(out)
	if err != nil {
		c.errorf("convert: %v", err)
		return exitUsage
	}
	log := cfg.NewLogger(c.stderr)
	plugins := pluginConfigs(cfg, log)
	if *only != "" {
		plugins = slices.DeleteFunc(slices.Clone(plugins), func(p config.PluginConfig) bool { return p.Name != *only })
		if len(plugins) == 0 {
			c.errorf("convert: no configured plugin is named %q", *only)
			return exitUsage
		}
	}
	st, err := convertFile(ctx, plugins, convert.Request{InputPath: in, OutputPath: out, From: from, To: to}, c.stderr, log)
	if err != nil {
		c.errorf("convert: %v", err)
		return exitError
	}
	fmt.Fprintf(c.stdout, "%s: %d meshes, %d triangles, %d materials, bbox %v..%v, %d bytes, %s\n", out,
		st.Meshes, st.Triangles, st.Materials, st.BBoxMin, st.BBoxMax, st.OutputBytes, st.Duration.Round(1e6))
	return exitOK
}

// convertFile starts plugins and converts req's input with the one that
// converts its formats, printing progress lines to progress. A plugin for
// the input's format that did not start is the error, with why.
func convertFile(ctx context.Context, plugins []config.PluginConfig, req convert.Request, progress io.Writer, log *slog.Logger) (*convert.Stats, error) {
	in, out := req.InputPath, req.OutputPath
	fmt.Fprintf(progress, "converting %s -> %s: starting converter...\n", in, out)
	convs := openConverters(ctx, plugins, "", log)
	defer convs.Close()
	conv, err := convs.reg.Lookup(req.From, req.To)
	if err != nil {
		if f, ok := convs.failureFor(req.From); ok {
			return nil, errors.New(f.String())
		}
		return nil, err
	}
	info, _ := conv.Info(ctx)
	fmt.Fprintf(progress, "converting %s -> %s with %s %s...\n", in, out, info.Name, info.Version)
	req.InputPath, _ = filepath.Abs(in)
	req.OutputPath, _ = filepath.Abs(out)
	return conv.Convert(ctx, req)
}

// pluginsCmd is `partflow plugins`: the configured plugins, their formats,
// version and health.
func (c *cli) pluginsCmd(ctx context.Context, args []string) int {
	fs := c.flagSet("plugins")
	config.AddFlags(fs)
	cfg, code := c.loadChecked(fs, args)
	if code >= 0 {
		return code
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	plugins := pluginConfigs(cfg, log)
	if len(plugins) == 0 {
		fmt.Fprintln(c.stdout, "no converter plugins configured, and the cascadio plugin is not set up (run `make venv`)")
		return exitOK
	}
	status := exitOK
	for _, pc := range plugins {
		if !describePlugin(ctx, pc, log, c.stdout) {
			status = exitError
		}
	}
	return status
}

// describePlugin starts the plugin pc and writes its command, formats,
// version, conversions and health to w. It reports whether the plugin
// started and answers its health check.
func describePlugin(ctx context.Context, pc config.PluginConfig, log *slog.Logger, w io.Writer) bool {
	fmt.Fprintf(w, "%s\n  command: %s\n  formats: %s\n  pool: %d, timeout: %s\n", pc.Name,
		strings.Join(pc.Command, " "), strings.Join(pc.Formats, ", "), max(pc.PoolSize, 1), pc.Timeout)
	convs := openConverters(ctx, []config.PluginConfig{pc}, "", log)
	defer convs.Close()
	if len(convs.plugins) == 0 {
		why := "it did not start"
		if len(convs.failed) > 0 {
			why = startFailureText(pc.Name, convs.failed[0].err)
		}
		fmt.Fprintf(w, "  health: NOT RUNNING: %s\n", strings.ReplaceAll(strings.TrimSpace(why), "\n", "\n    "))
		return false
	}
	p := convs.plugins[0]
	info, _ := p.Info(ctx)
	health, ok := "ok", true
	if err := p.Ping(ctx); err != nil {
		health, ok = "FAILING: "+err.Error(), false
	}
	var conversions []string
	for _, cv := range info.Conversions {
		if slices.Contains(pc.Formats, string(cv.From)) {
			conversions = append(conversions, cv.String())
		}
	}
	fmt.Fprintf(w, "  version: %s %s\n  converts: %s\n  health: %s\n", info.Name, info.Version,
		strings.Join(conversions, ", "), health)
	return ok
}
