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
	l := &entryList{c: c}
	l.add("env", c.Env)
	l.add("addr", c.Addr)
	l.add("replica_id", c.ReplicaID)
	l.add("metrics_addr", c.MetricsAddr)
	l.add("database_url", RedactDSN(c.DatabaseURL)).Resolved = RedactDSN(c.dbDSN)
	l.add("files_url", c.FilesURL).Resolved = c.filesDSN
	c.keyEntries(l)
	l.add("cors_origins", list(c.CORSOrigins))
	l.add("base_path", strconv.Quote(c.BasePath))
	l.add("static_dir", strconv.Quote(c.StaticDir))
	l.add("max_body_bytes", c.MaxBodyBytes.String())
	l.add("max_file_size", c.MaxFileSize.String())
	l.add("allowed_extensions", list(c.AllowedExtensions))
	l.add("log.level", c.Log.Level)
	l.add("log.format", c.Log.Format)
	l.add("trusted_proxies", list(c.TrustedProxies))
	l.add("allow_query_api_key", strconv.FormatBool(c.AllowQueryAPIKey))
	c.pluginEntries(l)
	l.add("convert.wait", c.Convert.Wait.String())
	l.add("convert.lease", c.Convert.Lease.String())
	l.add("cache.part_bytes", c.Cache.PartBytes.String())
	l.add("cache.answer_bytes", c.Cache.AnswerBytes.String())
	l.add("memory_limit", c.MemoryLimit.String())
	l.add("model_wait", c.ModelWait.String())
	c.workflowEntries(l)
	c.eventEntries(l)
	c.limitEntries(l)
	l.add("onshape.base_url", c.Onshape.BaseURL)
	for _, k := range []struct{ key, v string }{{"onshape.access_key", c.Onshape.AccessKey}, {"onshape.secret_key", c.Onshape.SecretKey}} {
		if k.v == "" {
			l.add(k.key, "(none)")
		} else {
			l.add(k.key, MaskSecret(k.v))
		}
	}
	return l.es
}

// entryList collects the entries of a Config.
type entryList struct {
	c  *Config
	es []Entry
}

// add appends the entry of key with its source and returns it, for the
// caller to adjust before the next add.
func (l *entryList) add(key, value string) *Entry {
	l.es = append(l.es, Entry{Key: key, Value: value, Source: l.c.Source(key).String()})
	return &l.es[len(l.es)-1]
}

// item appends entry i of the list setting key, e.g. plugins[0].
func (l *entryList) item(key string, i int, value string) *Entry {
	e := l.add(key, value)
	e.Key = fmt.Sprintf("%s[%d]", key, i)
	return e
}

// list formats a list setting's values.
func list(xs []string) string { return "[" + strings.Join(xs, ", ") + "]" }

// keyEntries adds api_key and api_keys, masked.
func (c *Config) keyEntries(l *entryList) {
	switch {
	case c.APIKey != "":
		l.add("api_key", MaskSecret(c.APIKey))
	case len(c.APIKeys) > 0:
		l.add("api_key", "(none)")
	default:
		e := l.add("api_key", "(none)")
		e.Value, e.Source = c.generatedKey()
	}
	if len(c.APIKeys) == 0 {
		l.add("api_keys", "[]")
	}
	for i, k := range c.APIKeys {
		l.item("api_keys", i, fmt.Sprintf("name=%s role=%s key=%s", strconv.Quote(k.Name), k.Role, MaskSecret(k.Key)))
	}
}

// pluginEntries adds the plugins serve starts: the configured ones, or the
// cascadio plugin make venv set up. Plugin env values may be secrets and
// are masked.
func (c *Config) pluginEntries(l *entryList) {
	plugins := c.PluginsToStart()
	if len(plugins) == 0 {
		l.add("plugins", "[]").Source = "default; STEP conversion is off: the cascadio plugin is not set up (run make venv)"
	}
	for i, p := range plugins {
		opts := make([]string, 0, len(p.Options))
		for k, v := range p.Options {
			opts = append(opts, k+"="+v)
		}
		sort.Strings(opts)
		env := make([]string, 0, len(p.Env))
		for k := range p.Env {
			env = append(env, k+"=****")
		}
		sort.Strings(env)
		e := l.item("plugins", i, fmt.Sprintf("name=%s command=%s formats=%s pool_size=%d timeout=%s memory_limit=%s options=%s env=%s",
			p.Name, list(p.Command), list(p.Formats), p.PoolSize, p.Timeout, p.MemoryLimit, list(opts), list(env)))
		if len(c.Plugins) == 0 {
			e.Source = "default: the cascadio plugin make venv set up"
		}
	}
}

// eventEntries adds the webhooks (URLs and secrets masked) and the change
// log's settings.
func (c *Config) eventEntries(l *entryList) {
	if len(c.Webhooks) == 0 {
		l.add("webhooks", "[]")
	}
	for i, w := range c.Webhooks {
		l.item("webhooks", i, fmt.Sprintf("id=%s url=%s format=%s enabled=%t secret=%s", w.ID, RedactURL(w.URL), w.Format, w.Enabled, MaskSecret(w.Secret)))
	}
	l.add("events.max_age", c.Events.MaxAge.String())
	l.add("events.max_count", strconv.Itoa(c.Events.MaxCount))
	l.add("events.poll", c.Events.Poll.String())
	l.add("events.heartbeat", c.Events.Heartbeat.String())
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
func (c *Config) limitEntries(l *entryList) {
	l.add("convert.max_triangles", strconv.FormatInt(c.Convert.MaxTriangles, 10))
	l.add("convert.max_output_bytes", c.Convert.MaxOutputBytes.String())
	l.add("gc.grace", c.GC.Grace.String())
	l.add("gc.interval", c.GC.Interval.String())
	l.add("uploads.min_rate", c.Uploads.MinRate.String())
	l.add("uploads.rate_window", c.Uploads.RateWindow.String())
	l.add("uploads.max_per_client", strconv.Itoa(c.Uploads.MaxPerClient))
}

// workflowEntries adds the workflow, policy and custom workflow settings.
func (c *Config) workflowEntries(l *entryList) {
	flow := c.WorkflowValue()
	var stages []string
	for _, st := range flow.Stages() {
		stages = append(stages, string(st))
	}
	l.add("workflow", fmt.Sprintf("%s (stages %s; new parts in %s, done in %s)", flow.Name(), list(stages), flow.Initial(), flow.Done()))
	for i, r := range c.Policy {
		l.item("policy", i, fmt.Sprintf("operation=%s from=%s roles=%s", r.Operation, list(r.From), list(r.Roles)))
	}
	for i, w := range c.Workflows {
		l.item("workflows", i, fmt.Sprintf("name=%s stages=%s rules=%d", w.Name, list(w.Stages), len(w.Rules)))
	}
}
