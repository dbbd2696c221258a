package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/partflow/partflow/convert/grpcplugin"
	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/parts"
)

// normalize checks every setting and brings it to canonical form:
// lower-case enumerations, absolute paths, base path without a trailing
// slash, parsed proxies, plugin defaults. It returns all problems at
// once, each a *Error naming the setting.
func (c *Config) normalize() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		src := key
		if i := strings.IndexByte(src, '['); i >= 0 {
			src = src[:i]
		}
		errs = append(errs, &Error{Key: key, Source: c.Source(src), Msg: fmt.Sprintf(format, args...)})
	}
	c.normalizeAddresses(bad)
	c.normalizeKeys(bad)
	c.normalizeHTTP(bad)
	c.normalizeSizes(bad)
	c.normalizeLogAndProxies(bad)
	c.normalizeWaits(bad)
	c.checkLimits(bad)
	c.validateWorkflows(bad)
	for i := range c.Webhooks {
		if err := c.Webhooks[i].Validate(); err != nil {
			bad(fmt.Sprintf("webhooks[%d]", i), "%v", err)
		}
	}
	if c.Events.MaxAge < 0 || c.Events.MaxCount < 0 || c.Events.Poll < 0 || c.Events.Heartbeat < 0 {
		bad("events", "max_age, max_count, poll and heartbeat must not be negative")
	}
	c.validatePolicy(bad)

	seen := map[string]bool{}
	for i := range c.Plugins {
		c.normalizePlugin(i, seen, bad)
	}
	return errors.Join(errs...)
}

// normalizeAddresses checks addr, database_url and files_url.
func (c *Config) normalizeAddresses(bad func(key, format string, args ...any)) {
	if host, port, err := net.SplitHostPort(c.Addr); err != nil {
		bad("addr", "invalid address %q: want host:port, e.g. 127.0.0.1:5000 or :5000", c.Addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("addr", "invalid port %q in %q (want 0-65535)", port, c.Addr)
	} else if strings.ContainsAny(host, " /") {
		bad("addr", "invalid host %q", host)
	}

	if dsn, path, err := NormalizeDatabaseURL(c.DatabaseURL); err != nil {
		bad("database_url", "%v", err)
	} else {
		c.dbDSN, c.dbPath = dsn, path
	}
	if dsn, err := NormalizeFilesURL(c.FilesURL); err != nil {
		bad("files_url", "%v", err)
	} else {
		c.filesDSN = dsn
	}
}

// normalizeKeys checks api_keys: names and keys unique, known roles.
func (c *Config) normalizeKeys(bad func(key, format string, args ...any)) {
	names, keys := map[string]bool{}, map[string]bool{}
	if c.APIKey != "" {
		keys[c.APIKey] = true
	}
	for i := range c.APIKeys {
		k := &c.APIKeys[i]
		k.Name = strings.TrimSpace(k.Name)
		k.Role = strings.ToLower(strings.TrimSpace(k.Role))
		key := fmt.Sprintf("api_keys[%d]", i)
		switch {
		case k.Name == "":
			bad(key+".name", "missing: every key needs a name for the logs")
		case names[k.Name]:
			bad(key+".name", "duplicate name %q", k.Name)
		}
		names[k.Name] = true
		switch {
		case k.Key == "":
			bad(key+".key", "missing")
		case keys[k.Key]:
			bad(key+".key", "the same key is configured twice (named %q)", k.Name)
		}
		keys[k.Key] = true
		switch k.Role {
		case RoleReadOnly, RoleEditor, RoleAdmin:
		case "":
			bad(key+".role", "missing (want %s, %s or %s)", RoleReadOnly, RoleEditor, RoleAdmin)
		default:
			bad(key+".role", "unknown role %q (want %s, %s or %s)", k.Role, RoleReadOnly, RoleEditor, RoleAdmin)
		}
	}
}

// normalizeHTTP checks cors_origins, base_path and static_dir.
func (c *Config) normalizeHTTP(bad func(key, format string, args ...any)) {
	for i, o := range c.CORSOrigins {
		norm, err := normalizeOrigin(o)
		if err != nil {
			bad(fmt.Sprintf("cors_origins[%d]", i), "%v", err)
			continue
		}
		c.CORSOrigins[i] = norm
	}

	if bp, err := normalizeBasePath(c.BasePath); err != nil {
		bad("base_path", "%v", err)
	} else {
		c.BasePath = bp
	}

	if c.StaticDir != "" {
		abs, err := filepath.Abs(c.StaticDir)
		if err != nil {
			bad("static_dir", "%v", err)
		} else if fi, err := os.Stat(abs); err != nil {
			bad("static_dir", "%v", err)
		} else if !fi.IsDir() {
			bad("static_dir", "%s is not a directory", abs)
		} else {
			c.StaticDir = abs
		}
	}
}

// normalizeSizes checks the size limits and allowed_extensions.
func (c *Config) normalizeSizes(bad func(key, format string, args ...any)) {
	if c.MaxBodyBytes <= 0 {
		bad("max_body_bytes", "must be positive, got %d", c.MaxBodyBytes)
	}
	if c.MaxFileSize <= 0 {
		bad("max_file_size", "must be positive, got %d", c.MaxFileSize)
	}
	if c.Cache.PartBytes <= 0 {
		bad("cache.part_bytes", "must be positive, got %d", c.Cache.PartBytes)
	}
	if c.Cache.AnswerBytes <= 0 {
		bad("cache.answer_bytes", "must be positive, got %d", c.Cache.AnswerBytes)
	}
	if c.MemoryLimit < 0 {
		bad("memory_limit", "must not be negative, got %d", c.MemoryLimit)
	}

	exts := []string{}
	seen := map[string]bool{}
	for i, e := range c.AllowedExtensions {
		e = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(e), "."))
		if !extPattern.MatchString(e) {
			bad(fmt.Sprintf("allowed_extensions[%d]", i), "invalid extension %q (letters and digits only)", c.AllowedExtensions[i])
			continue
		}
		if !seen[e] {
			seen[e] = true
			exts = append(exts, e)
		}
	}
	if len(c.AllowedExtensions) == 0 {
		bad("allowed_extensions", "empty: no upload could be accepted")
	}
	c.AllowedExtensions = exts
}

// normalizeLogAndProxies checks log.level, log.format and trusted_proxies.
func (c *Config) normalizeLogAndProxies(bad func(key, format string, args ...any)) {
	switch lvl := strings.ToLower(strings.TrimSpace(c.Log.Level)); lvl {
	case "debug", "info", "warn", "error":
		c.Log.Level = lvl
	case "warning":
		c.Log.Level = "warn"
	default:
		bad("log.level", "unknown level %q (want debug, info, warn or error)", c.Log.Level)
	}
	switch f := strings.ToLower(strings.TrimSpace(c.Log.Format)); f {
	case "text", "json":
		c.Log.Format = f
	default:
		bad("log.format", "unknown format %q (want text or json)", c.Log.Format)
	}

	c.trusted = nil
	for i, p := range c.TrustedProxies {
		prefix, err := parseProxy(p)
		if err != nil {
			bad(fmt.Sprintf("trusted_proxies[%d]", i), "%v", err)
			continue
		}
		c.trusted = append(c.trusted, prefix)
	}
}

// normalizeWaits checks the conversion waits and lease, metrics_addr and model_wait.
func (c *Config) normalizeWaits(bad func(key, format string, args ...any)) {
	if c.Convert.Wait < 0 {
		bad("convert.wait", "must not be negative, got %s", c.Convert.Wait)
	}
	if c.Convert.Lease != 0 && c.Convert.Lease < 3*time.Second {
		bad("convert.lease", "must be at least 3s (workers renew it every third), got %s", c.Convert.Lease)
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			bad("metrics_addr", "want host:port: %v", err)
		}
	}
	if c.ModelWait < 0 {
		bad("model_wait", "must not be negative, got %s", c.ModelWait)
	}
}

// normalizePlugin checks plugins[i] and fills its defaults; seen holds the
// names of the plugins before it.
func (c *Config) normalizePlugin(i int, seen map[string]bool, bad func(key, format string, args ...any)) {
	p := &c.Plugins[i]
	key := fmt.Sprintf("plugins[%d]", i)
	switch {
	case !pluginName.MatchString(p.Name):
		bad(key+".name", "invalid name %q (lower-case letters, digits, - and _)", p.Name)
	case seen[p.Name]:
		bad(key+".name", "duplicate plugin %q", p.Name)
	}
	seen[p.Name] = true
	if len(p.Command) == 0 || strings.TrimSpace(p.Command[0]) == "" {
		bad(key+".command", "missing: want the program and its arguments as a list")
	}
	if len(p.Formats) == 0 {
		bad(key+".formats", "missing: want the formats the plugin converts, e.g. [step]")
	}
	for j, f := range p.Formats {
		f = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(f), "."))
		if !extPattern.MatchString(f) {
			bad(fmt.Sprintf("%s.formats[%d]", key, j), "invalid format %q", p.Formats[j])
		}
		p.Formats[j] = f
	}
	switch {
	case p.PoolSize == 0:
		p.PoolSize = defaultPluginPoolSize
	case p.PoolSize < 0 || p.PoolSize > maxPluginPoolSize:
		bad(key+".pool_size", "must be 1-%d, got %d", maxPluginPoolSize, p.PoolSize)
	}
	switch {
	case p.Timeout == 0:
		p.Timeout = defaultPluginTimeout
	case p.Timeout < 0:
		bad(key+".timeout", "must be positive, got %s", p.Timeout)
	}
	if p.MemoryLimit < 0 {
		bad(key+".memory_limit", "must not be negative")
	}
	if _, err := p.ConvertOptions(); err != nil {
		bad(key+".options", "%v", err)
	}
	for _, name := range slices.Sorted(maps.Keys(p.Env)) {
		switch {
		case !envName.MatchString(name):
			bad(key+".env", "invalid variable name %q (letters, digits and _, not starting with a digit)", name)
		case name == grpcplugin.Handshake.MagicCookieKey || strings.HasPrefix(name, "PLUGIN_"):
			bad(key+".env", "%s is set by the plugin handshake and cannot be configured", name)
		}
	}
}

var (
	extPattern  = regexp.MustCompile(`^[a-z0-9]{1,16}$`)
	envName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	pluginName  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	schemeRegex = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)
)

// normalizeOrigin checks a CORS origin: "*" or scheme://host[:port].
// A trailing slash is dropped, since browsers never send one.
func normalizeOrigin(o string) (string, error) {
	o = strings.TrimSpace(o)
	if o == "*" {
		return o, nil
	}
	u, err := url.Parse(strings.TrimSuffix(o, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("invalid origin %q: want \"*\" or http(s)://host[:port]", o)
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("invalid origin %q: an origin has no path, query or credentials", o)
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), nil
}

// normalizeBasePath checks base_path: empty or starting with "/"; a
// trailing slash is dropped, so "/" means the root.
func normalizeBasePath(p string) (string, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return "", nil
	}
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%q must start with \"/\", e.g. /part-management-system", p)
	}
	if strings.ContainsAny(p, "?#\\ \t") || strings.Contains(p, "//") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") {
		return "", fmt.Errorf("%q is not a clean URL path", p)
	}
	return strings.TrimRight(p, "/"), nil
}

// parseProxy parses a CIDR, or a single address as a one-host prefix.
func parseProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q: %v", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR or address %q", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// checkLimits checks the settings that bound conversions, uploads and crash
// leftovers.
func (c *Config) checkLimits(bad func(key, format string, args ...any)) {
	if c.Convert.MaxTriangles < 0 {
		bad("convert.max_triangles", "must not be negative, got %d", c.Convert.MaxTriangles)
	}
	if c.Convert.MaxOutputBytes < 0 {
		bad("convert.max_output_bytes", "must not be negative, got %d", c.Convert.MaxOutputBytes)
	}
	if c.GC.Grace <= 0 {
		bad("gc.grace", "must be positive, got %s", c.GC.Grace)
	}
	if c.GC.Interval <= 0 {
		bad("gc.interval", "must be positive, got %s", c.GC.Interval)
	}
	if c.Uploads.MinRate < 0 {
		bad("uploads.min_rate", "must not be negative, got %d", c.Uploads.MinRate)
	}
	if c.Uploads.RateWindow <= 0 {
		bad("uploads.rate_window", "must be positive, got %s", c.Uploads.RateWindow)
	}
	if c.Uploads.MaxPerClient < 0 {
		bad("uploads.max_per_client", "must not be negative, got %d", c.Uploads.MaxPerClient)
	}
}

// validateWorkflows builds the custom workflows and resolves the workflow
// setting to one of them or a built-in.
func (c *Config) validateWorkflows(bad func(key, format string, args ...any)) {
	c.Workflow = strings.ToLower(strings.TrimSpace(c.Workflow))
	custom := map[string]*parts.Workflow{}
	names := []string{parts.WorkflowOriginal, parts.WorkflowStrict}
	for i, wc := range c.Workflows {
		key := fmt.Sprintf("workflows[%d]", i)
		if _, err := parts.WorkflowByName(wc.Name); err == nil || wc.Name == "" || custom[wc.Name] != nil {
			bad(key+".name", "workflow name %q is empty, built in or used twice", wc.Name)
			continue
		}
		w, err := parts.NewWorkflow(wc.spec())
		if err != nil {
			var we *parts.WorkflowError
			if errors.As(err, &we) {
				err = errors.New(strings.Join(we.Problems, "; "))
			}
			bad(key, "%v", err)
			continue
		}
		custom[wc.Name] = w
		names = append(names, wc.Name)
	}
	if w, ok := custom[c.Workflow]; ok {
		c.flow = w
		return
	}
	w, err := parts.WorkflowByName(c.Workflow)
	if err != nil {
		last := len(names) - 1
		bad("workflow", "unknown workflow %q (want %s or %s)", c.Workflow, strings.Join(names[:last], ", "), names[last])
		return
	}
	c.flow = w
}

// validatePolicy checks the policy rules: known operations, roles, and
// stages of the configured workflow.
func (c *Config) validatePolicy(bad func(key, format string, args ...any)) {
	rp, ok := c.HTTPPolicy().(httpapi.RolePolicy)
	if !ok {
		return
	}
	if err := rp.Validate(); err != nil {
		bad("policy", "%v", err)
	}
	for i, r := range c.Policy {
		for _, st := range r.From {
			if !c.WorkflowValue().HasStage(parts.Category(st)) {
				bad(fmt.Sprintf("policy[%d].from", i), "unknown stage %q in workflow %s", st, c.WorkflowValue().Name())
			}
		}
	}
}
