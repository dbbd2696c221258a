package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/convert/grpcplugin"
	"github.com/partflow/partflow/internal/config"
)

// converters are the configured converter plugins, running.
type converters struct {
	reg     *convert.Registry
	plugins []*grpcplugin.Plugin
	// workers is how many conversions can run at once (the pool sizes).
	workers int
	// tmp is where conversion job directories go ("" = the system's).
	tmp string
	// failed are the plugins that did not start, with why.
	failed []pluginFailure
	// owner and lease are this server's job leases (see
	// parts.ConvertOptions); onConversion observes each converter run.
	owner        string
	lease        time.Duration
	onConversion func(converter string, took time.Duration, err error)
}

// pluginFailure is a configured plugin that did not start.
type pluginFailure struct {
	plugin config.PluginConfig
	err    error
}

// String is the failure as one line: "plugin NAME failed to start: why".
func (f pluginFailure) String() string {
	return "plugin " + f.plugin.Name + " failed to start: " + startFailureText(f.plugin.Name, f.err)
}

// startFailureText shortens a plugin start error for people: without the
// package prefix and sentinel, and with go-plugin's generic checklist for a
// missing handshake replaced by what it means. The plugin's stderr tail
// stays.
func startFailureText(name string, err error) string {
	msg := strings.TrimSuffix(err.Error(), ": "+convert.ErrUnavailable.Error())
	msg = strings.TrimPrefix(msg, "grpcplugin: start "+name+": ")
	if i := strings.Index(msg, "Unrecognized remote plugin message"); i >= 0 {
		tail := ""
		if j := strings.Index(msg, "; stderr: "); j >= 0 {
			tail = msg[j:]
		}
		msg = msg[:i] + "it wrote no handshake line on stdout (it exited or failed before serving)" + tail
	}
	return msg
}

// failureFor returns the start failure of a plugin configured for format
// from, if one did not start.
func (c *converters) failureFor(from convert.Format) (pluginFailure, bool) {
	for _, f := range c.failed {
		if slices.Contains(f.plugin.Formats, string(from)) {
			return f, true
		}
	}
	return pluginFailure{}, false
}

// Close stops every plugin process.
func (c *converters) Close() error {
	var errs []error
	for _, p := range c.plugins {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}

// pluginConfigs returns the plugins to start (config.Config.PluginsToStart),
// logging why STEP conversion is off when there are none.
func pluginConfigs(cfg *config.Config, log *slog.Logger) []config.PluginConfig {
	plugins := cfg.PluginsToStart()
	if len(plugins) == 0 {
		log.Warn("STEP to GLB conversion is off: the cascadio plugin is not set up. Run `make venv` " +
			"(or configure plugins); until then the model routes answer 503")
	}
	return plugins
}

// openConverters starts the plugins and registers them. A plugin that
// cannot start is logged and skipped: the server runs without it and its
// formats answer 503.
func openConverters(ctx context.Context, plugins []config.PluginConfig, tmp string, log *slog.Logger) *converters {
	c := &converters{reg: convert.NewRegistry(), tmp: tmp}
	for _, pc := range plugins {
		opts, err := pc.ConvertOptions()
		if err != nil {
			c.failed = append(c.failed, pluginFailure{pc, err})
			log.Error("converter plugin not started", "plugin", pc.Name, "err", err)
			continue
		}
		p, err := grpcplugin.Open(ctx, grpcplugin.Config{Name: pc.Name, Command: pc.Command, PoolSize: pc.PoolSize,
			Timeout: pc.Timeout, MemoryLimit: int64(pc.MemoryLimit), TempDir: tmp, Logger: log, Env: envList(pc.Env)})
		if err != nil {
			c.failed = append(c.failed, pluginFailure{pc, err})
			log.Error("converter plugin not started; its formats answer 503", "plugin", pc.Name, "err", startFailureText(pc.Name, err))
			continue
		}
		conv := &configured{Converter: p, formats: pc.Formats, opts: opts}
		if err := c.reg.Register(ctx, conv); err != nil {
			log.Error("converter plugin not registered; its formats answer 503", "plugin", pc.Name, "err", err)
			p.Close()
			continue
		}
		c.plugins = append(c.plugins, p)
		c.workers += max(pc.PoolSize, 1)
		info, _ := conv.Info(ctx)
		log.Info("converter plugin ready", "plugin", pc.Name, "version", info.Version, "conversions", fmt.Sprint(info.Conversions))
	}
	return c
}

// envList turns a plugin's env settings into sorted KEY=value entries.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// configured restricts a converter to the formats its configuration names
// and fills in its configured options where a request leaves them unset.
type configured struct {
	convert.Converter
	formats []string
	opts    convert.Options
}

// Info lists only the configured formats; the options are part of the
// version, so cached models made with other options are not reused.
func (c *configured) Info(ctx context.Context) (convert.Info, error) {
	info, err := c.Converter.Info(ctx)
	if err != nil {
		return info, err
	}
	var keep []convert.Conversion
	for _, conv := range info.Conversions {
		if slices.Contains(c.formats, string(conv.From)) {
			keep = append(keep, conv)
		}
	}
	info.Conversions = keep
	if s := optionsString(c.opts); s != "" {
		info.Version += "+" + s
	}
	return info, nil
}

// Convert applies the configured options under the request's own.
func (c *configured) Convert(ctx context.Context, req convert.Request) (*convert.Stats, error) {
	o := &req.Options
	o.LinearTolerance = cmpOr(o.LinearTolerance, c.opts.LinearTolerance)
	o.AngularTolerance = cmpOr(o.AngularTolerance, c.opts.AngularTolerance)
	o.RelativeTolerance = cmpOr(o.RelativeTolerance, c.opts.RelativeTolerance)
	o.MergePrimitives = cmpOr(o.MergePrimitives, c.opts.MergePrimitives)
	return c.Converter.Convert(ctx, req)
}

func cmpOr[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

func optionsString(o convert.Options) string {
	var parts []string
	if o.LinearTolerance != nil {
		parts = append(parts, "lin="+strconv.FormatFloat(*o.LinearTolerance, 'g', -1, 64))
	}
	if o.AngularTolerance != nil {
		parts = append(parts, "ang="+strconv.FormatFloat(*o.AngularTolerance, 'g', -1, 64))
	}
	if o.RelativeTolerance != nil {
		parts = append(parts, "rel="+strconv.FormatBool(*o.RelativeTolerance))
	}
	if o.MergePrimitives != nil {
		parts = append(parts, "merge="+strconv.FormatBool(*o.MergePrimitives))
	}
	return strings.Join(parts, ",")
}
