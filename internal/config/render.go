package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Entry is one line of `partflow config` output.
type Entry struct {
	// Key is the setting; list items get an index, e.g. "plugins[0]".
	Key string `json:"key"`
	// Value is the effective value, secrets masked.
	Value string `json:"value"`
	// Source says where the value came from (see Source.String).
	Source string `json:"source"`
	// Resolved is the normalised form of a URL setting, when it differs.
	Resolved string `json:"resolved,omitempty"`
}

// Entries lists every setting of c with its masked value and source, in
// a fixed order. List entries of api_keys and plugins get one line each.
func (c *Config) Entries() []Entry {
	var es []Entry
	add := func(key, value string) {
		es = append(es, Entry{Key: key, Value: value, Source: c.Source(key).String()})
	}
	list := func(xs []string) string { return "[" + strings.Join(xs, ", ") + "]" }

	add("env", c.Env)
	add("addr", c.Addr)
	add("replica_id", c.ReplicaID)
	add("metrics_addr", c.MetricsAddr)
	add("database_url", RedactDSN(c.DatabaseURL))
	es[len(es)-1].Resolved = RedactDSN(c.dbDSN)
	add("files_url", c.FilesURL)
	es[len(es)-1].Resolved = c.filesDSN
	switch {
	case c.APIKey != "":
		add("api_key", MaskSecret(c.APIKey))
	case len(c.APIKeys) > 0:
		add("api_key", "(none)")
	default:
		add("api_key", "(none)")
		es[len(es)-1].Value, es[len(es)-1].Source = c.generatedKey()
	}
	if len(c.APIKeys) == 0 {
		add("api_keys", "[]")
	}
	for i, k := range c.APIKeys {
		add("api_keys", fmt.Sprintf("name=%s role=%s key=%s", strconv.Quote(k.Name), k.Role, MaskSecret(k.Key)))
		es[len(es)-1].Key = fmt.Sprintf("api_keys[%d]", i)
	}
	add("cors_origins", list(c.CORSOrigins))
	add("base_path", strconv.Quote(c.BasePath))
	add("static_dir", strconv.Quote(c.StaticDir))
	add("max_body_bytes", c.MaxBodyBytes.String())
	add("max_file_size", c.MaxFileSize.String())
	add("allowed_extensions", list(c.AllowedExtensions))
	add("log.level", c.Log.Level)
	add("log.format", c.Log.Format)
	add("trusted_proxies", list(c.TrustedProxies))
	add("allow_query_api_key", strconv.FormatBool(c.AllowQueryAPIKey))
	plugins := c.Plugins
	if len(plugins) == 0 {
		// What serve actually starts: the cascadio plugin make venv set up.
		plugins = c.PluginsToStart()
		if len(plugins) == 0 {
			add("plugins", "[]")
			es[len(es)-1].Source = "default; STEP conversion is off: the cascadio plugin is not set up (run make venv)"
		}
	}
	for i, p := range plugins {
		opts := make([]string, 0, len(p.Options))
		for k, v := range p.Options {
			opts = append(opts, k+"="+v)
		}
		sort.Strings(opts)
		env := make([]string, 0, len(p.Env))
		for k := range p.Env {
			env = append(env, k+"=****") // values may be secrets
		}
		sort.Strings(env)
		add("plugins", fmt.Sprintf("name=%s command=%s formats=%s pool_size=%d timeout=%s memory_limit=%s options=%s env=%s",
			p.Name, list(p.Command), list(p.Formats), p.PoolSize, p.Timeout, p.MemoryLimit, list(opts), list(env)))
		es[len(es)-1].Key = fmt.Sprintf("plugins[%d]", i)
		if len(c.Plugins) == 0 {
			es[len(es)-1].Source = "default: the cascadio plugin make venv set up"
		}
	}
	add("convert.wait", c.Convert.Wait.String())
	add("convert.lease", c.Convert.Lease.String())
	add("cache.part_bytes", c.Cache.PartBytes.String())
	add("cache.answer_bytes", c.Cache.AnswerBytes.String())
	add("memory_limit", c.MemoryLimit.String())
	add("model_wait", c.ModelWait.String())
	es = append(es, c.workflowEntries()...)
	if len(c.Webhooks) == 0 {
		add("webhooks", "[]")
	}
	for i, w := range c.Webhooks {
		add("webhooks", fmt.Sprintf("id=%s url=%s format=%s enabled=%t secret=%s", w.ID, RedactURL(w.URL), w.Format, w.Enabled, MaskSecret(w.Secret)))
		es[len(es)-1].Key = fmt.Sprintf("webhooks[%d]", i)
	}
	add("events.max_age", c.Events.MaxAge.String())
	add("events.max_count", strconv.Itoa(c.Events.MaxCount))
	add("events.poll", c.Events.Poll.String())
	add("events.heartbeat", c.Events.Heartbeat.String())
	c.limitEntries(add)
	add("onshape.base_url", c.Onshape.BaseURL)
	for _, k := range []struct{ key, v string }{{"onshape.access_key", c.Onshape.AccessKey}, {"onshape.secret_key", c.Onshape.SecretKey}} {
		if k.v == "" {
			add(k.key, "(none)")
		} else {
			add(k.key, MaskSecret(k.v))
		}
	}
	return es
}

// generatedKey describes the key serve uses when none is configured: the
// key file it generated beside the database (masked), or what it will do.
// It returns the value and the source for `partflow config`.
func (c *Config) generatedKey() (value, source string) {
	if c.Env == ProfileProduction {
		return "(none)", "default; serve refuses to start without an explicit key in production"
	}
	dir := c.DataDir()
	if dir == "" {
		return "(none)", "default; serve generates a key for each run (the database is not a file)"
	}
	path := filepath.Join(dir, APIKeyFile)
	key, err := readKeyFile(path)
	switch {
	case err == nil:
		return MaskSecret(key), "generated key file " + path
	case errors.Is(err, fs.ErrNotExist):
		return "(none)", "default; serve will generate one and store it in " + path
	default:
		return "(none)", "default; the key file is unreadable: " + err.Error()
	}
}

// MaskSecret shows enough of a secret to recognise it: its first two
// characters and its length, or only "****" when it is short.
func MaskSecret(s string) string {
	if len(s) < 12 {
		return "****"
	}
	return s[:2] + "…(" + strconv.Itoa(len(s)) + " chars)"
}

// RedactDSN replaces the password in a URL's user info and in password=
// query or keyword parameters with "****".
func RedactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		end := strings.IndexAny(rest, "/?")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				dsn = dsn[:i+3] + rest[:colon+1] + "****" + rest[at:]
			}
		}
	}
	var b strings.Builder
	for {
		j := strings.Index(strings.ToLower(dsn), "password=")
		if j < 0 {
			b.WriteString(dsn)
			return b.String()
		}
		b.WriteString(dsn[:j+len("password=")] + "****")
		dsn = dsn[j+len("password="):]
		if k := strings.IndexAny(dsn, "& "); k >= 0 {
			dsn = dsn[k:]
		} else {
			dsn = ""
		}
	}
}

// WriteEntries prints entries as aligned `key = value  (source)` lines,
// or as JSON lines.
func WriteEntries(w io.Writer, es []Entry, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, e := range es {
			if err := enc.Encode(e); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
		return nil
	}
	width := 0
	for _, e := range es {
		width = max(width, len(e.Key))
	}
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%-*s = %s  (%s)", width, e.Key, e.Value, e.Source)
		if e.Resolved != "" && e.Resolved != e.Value {
			fmt.Fprintf(&b, "  -> %s", e.Resolved)
		}
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// RedactURL keeps a webhook URL's scheme and host: its path often holds a
// token (Slack and Discord put the secret there).
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "****"
	}
	if u.Path == "" || u.Path == "/" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// limitEntries adds the settings that bound conversions, uploads and crash
// leftovers.
func (c *Config) limitEntries(add func(key, value string)) {
	add("convert.max_triangles", strconv.FormatInt(c.Convert.MaxTriangles, 10))
	add("convert.max_output_bytes", c.Convert.MaxOutputBytes.String())
	add("gc.grace", c.GC.Grace.String())
	add("gc.interval", c.GC.Interval.String())
	add("uploads.min_rate", c.Uploads.MinRate.String())
	add("uploads.rate_window", c.Uploads.RateWindow.String())
	add("uploads.max_per_client", strconv.Itoa(c.Uploads.MaxPerClient))
}

// workflowEntries are the workflow, policy and custom workflow settings of
// `partflow config`.
func (c *Config) workflowEntries() []Entry {
	var es []Entry
	add := func(key, value string) {
		es = append(es, Entry{Key: key, Value: value, Source: c.Source(key).String()})
	}
	list := func(xs []string) string { return "[" + strings.Join(xs, ", ") + "]" }
	flow := c.WorkflowValue()
	var stages []string
	for _, st := range flow.Stages() {
		stages = append(stages, string(st))
	}
	add("workflow", fmt.Sprintf("%s (stages %s; new parts in %s, done in %s)", flow.Name(), list(stages), flow.Initial(), flow.Done()))
	for i, r := range c.Policy {
		add("policy", fmt.Sprintf("operation=%s from=%s roles=%s", r.Operation, list(r.From), list(r.Roles)))
		es[len(es)-1].Key = fmt.Sprintf("policy[%d]", i)
	}
	for i, w := range c.Workflows {
		add("workflows", fmt.Sprintf("name=%s stages=%s rules=%d", w.Name, list(w.Stages), len(w.Rules)))
		es[len(es)-1].Key = fmt.Sprintf("workflows[%d]", i)
	}
	return es
}
