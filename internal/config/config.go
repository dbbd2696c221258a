package config

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/webhooks"
)

// Config is the complete, validated configuration of the partflow binary.
//
// It is produced by Load from five layers (defaults < profile defaults
// < config file < environment < flags). The koanf tags are the setting
// names used in config files, in PARTFLOW_ environment variables (upper
// case, "__" for nesting) and in `partflow config` output.
type Config struct {
	// Env is the profile: development, testing or production.
	Env string `koanf:"env"`
	// Addr is the listen address, host:port.
	Addr string `koanf:"addr"`
	// ReplicaID names this server among several on one database: in every
	// log line, in job leases and in /metrics. Default: the host name and a
	// random suffix, new at each start.
	ReplicaID string `koanf:"replica_id"`
	// MetricsAddr, when set, is a second listen address (host:port) that
	// serves only /metrics without a key, for a scraper on a private
	// network. /metrics on Addr always needs an admin key.
	MetricsAddr string `koanf:"metrics_addr"`
	// DatabaseURL is the database URL as configured (SQLAlchemy sqlite
	// forms, sqlite://path, a bare path, or postgres://). Use DatabaseDSN
	// for the normalised form the storage registry opens.
	DatabaseURL string `koanf:"database_url"`
	// FilesURL is where uploaded and converted files live, as configured
	// (file://path, a bare path, mem://, s3://...). Use FilesDSN for the
	// normalised form.
	FilesURL string `koanf:"files_url"`
	// APIKey is the single shared API key (the original's SECRET_KEY).
	// It has the admin role.
	APIKey string `koanf:"api_key"`
	// APIKeys are optional additional named keys, each with a role.
	APIKeys []APIKey `koanf:"api_keys"`
	// CORSOrigins lists the allowed browser origins ("*" allows any).
	CORSOrigins []string `koanf:"cors_origins"`
	// BasePath is the URL prefix the server is mounted under ("" or
	// "/something", never a trailing slash).
	BasePath string `koanf:"base_path"`
	// StaticDir, when set, is a directory with a built single-page client
	// served at BasePath + "/". It is absolute after loading.
	StaticDir string `koanf:"static_dir"`
	// MaxBodyBytes caps JSON request bodies.
	MaxBodyBytes ByteSize `koanf:"max_body_bytes"`
	// MaxFileSize caps uploaded files.
	MaxFileSize ByteSize `koanf:"max_file_size"`
	// AllowedExtensions are the upload extensions accepted, lower case
	// without a dot.
	AllowedExtensions []string `koanf:"allowed_extensions"`
	// Log configures the server's slog logger.
	Log LogConfig `koanf:"log"`
	// TrustedProxies are CIDR prefixes (bare addresses are accepted as
	// single-host prefixes) whose X-Forwarded-For is believed. Use
	// TrustedProxyPrefixes for the parsed form.
	TrustedProxies []string `koanf:"trusted_proxies"`
	// AllowQueryAPIKey allows the key in the api_key query parameter.
	AllowQueryAPIKey bool `koanf:"allow_query_api_key"`
	// Plugins are the converter plugins to start.
	Plugins []PluginConfig `koanf:"plugins"`
	// Convert holds conversion settings.
	Convert ConvertConfig `koanf:"convert"`
	// Cache sizes the caches of encoded answers.
	Cache CacheConfig `koanf:"cache"`
	// MemoryLimit is the Go runtime's soft memory limit for serve (the
	// collector works harder near it); 0 leaves it to GOMEMLIMIT.
	MemoryLimit ByteSize `koanf:"memory_limit"`
	// ModelWait is how long GET /model waits for a conversion.
	ModelWait time.Duration `koanf:"model_wait"`
	// GC configures the collection of unreferenced files and crash debris.
	GC GCConfig `koanf:"gc"`
	// Uploads bounds what slow or many uploads may hold.
	Uploads UploadsConfig `koanf:"uploads"`
	// Onshape configures fetching hand parts' drawings (GET .../drawing).
	Onshape OnshapeConfig `koanf:"onshape"`
	// Workflow names the workflow table the actions follow: "original"
	// (default, the original API's: everything but revert from any
	// category), "strict" (parts move forward through their columns), or
	// the name of one of Workflows.
	Workflow string `koanf:"workflow"`
	// Workflows defines custom workflows (stages and rules) that Workflow
	// may name.
	Workflows []WorkflowConfig `koanf:"workflows"`
	// Events configures the change log and its event stream.
	Events EventsConfig `koanf:"events"`
	// Webhooks are endpoints that receive the change log. They are added
	// to (or update) the endpoints managed at run time through the API,
	// kept with their cursors in webhooks.json in the data directory.
	Webhooks []webhooks.Endpoint `koanf:"webhooks"`
	// Policy restricts operations by role, on top of the keys' roles: e.g.
	// only qa may complete from inspection. Empty: the built-in policy.
	Policy []PolicyRule `koanf:"policy"`

	sources  map[string]Source
	flow     *parts.Workflow // the validated workflow Workflow names
	dbDSN    string
	dbPath   string // absolute SQLite file path, "" for memory or non-SQLite
	filesDSN string
	trusted  []netip.Prefix
}

// APIKey is one named API key with a role.
type APIKey struct {
	// Name identifies the key in logs (never the key itself).
	Name string `koanf:"name"`
	// Key is the secret.
	Key string `koanf:"key"`
	// Role is one of RoleReadOnly, RoleEditor, RoleAdmin.
	Role string `koanf:"role"`
	// Roles are extra role names the policy rules can require (e.g. qa).
	Roles []string `koanf:"roles"`
}

// PolicyRule restricts an operation to roles (see httpapi.RoleRule).
type PolicyRule struct {
	// Operation is read, write or a workflow action (approve, complete, ...).
	Operation string `koanf:"operation"`
	// From limits the rule to parts in these stages (workflow actions only).
	From []string `koanf:"from"`
	// Roles are the roles allowed.
	Roles []string `koanf:"roles"`
}

// Roles an APIKey can have.
const (
	RoleReadOnly = "read-only"
	RoleEditor   = "editor"
	RoleAdmin    = "admin"
)

// LogConfig configures logging.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `koanf:"level"`
	// Format is text or json.
	Format string `koanf:"format"`
}

// ConvertConfig configures file conversion.
type ConvertConfig struct {
	// Wait is how long an upload waits for its conversion before answering
	// (the conversion continues in the background after that).
	Wait time.Duration `koanf:"wait"`
	// MaxTriangles bounds a converted model's triangle count, passed to the
	// plugins (cascadio coarsens its tessellation to fit, or refuses), so
	// a small file cannot grow into gigabytes of mesh (default 5000000;
	// 0: no bound).
	MaxTriangles int64 `koanf:"max_triangles"`
	// MaxOutputBytes bounds a converted model's size (default 512MiB; 0:
	// no bound).
	MaxOutputBytes ByteSize `koanf:"max_output_bytes"`
	// Lease is how long a conversion job stays claimed by a server that
	// stops renewing it (it died); another server then takes it up.
	// Default 30 seconds.
	Lease time.Duration `koanf:"lease"`
}

// EventsConfig configures the change log: retention (applied at start and
// hourly), how often subscribers look for other processes' writes, and the
// event stream's heartbeat.
type EventsConfig struct {
	// MaxAge prunes events older than this; 0 keeps them by age.
	MaxAge time.Duration `koanf:"max_age"`
	// MaxCount keeps at most this many events; 0 means no count bound.
	// Pruned events also leave the parts' history.
	MaxCount int `koanf:"max_count"`
	// Poll is how often subscribers look for commits by other processes.
	Poll time.Duration `koanf:"poll"`
	// Heartbeat is how often an idle event stream gets a comment line.
	Heartbeat time.Duration `koanf:"heartbeat"`
}

// GCConfig configures the collection of what no part references and of
// what crashes leave behind: unreferenced objects, partial writes, upload
// spool files, conversion job directories.
type GCConfig struct {
	// Grace is how old such a file must be before it is removed, so that
	// work in flight is never collected (default 1h).
	Grace time.Duration `koanf:"grace"`
	// Interval is how often a running server collects (default 10m); it
	// also collects once at start.
	Interval time.Duration `koanf:"interval"`
}

// UploadsConfig bounds the connections and time uploads may hold.
type UploadsConfig struct {
	// MinRate is the slowest an upload may arrive, per second averaged
	// over RateWindow (default 256 B; 0 turns the check off).
	MinRate ByteSize `koanf:"min_rate"`
	// RateWindow is the period of MinRate, the longest an upload may send
	// nothing (default 1m).
	RateWindow time.Duration `koanf:"rate_window"`
	// MaxPerClient caps the uploads in progress from one client address
	// (default 8; 0 turns the cap off).
	MaxPerClient int `koanf:"max_per_client"`
}

// CacheConfig sizes the server's caches of encoded answers (see
// httpapi.CacheOptions). A size too small to hold any answer turns that
// cache off.
type CacheConfig struct {
	// PartBytes bounds the encoded parts kept by version.
	PartBytes ByteSize `koanf:"part_bytes"`
	// AnswerBytes bounds the whole answers kept for the current change
	// sequence, with their compressed forms.
	AnswerBytes ByteSize `koanf:"answer_bytes"`
}

// OnshapeConfig holds the Onshape API settings for drawings. Without keys
// the drawing route serves drawings fetched earlier and answers 503 for
// new ones.
type OnshapeConfig struct {
	// BaseURL is the Onshape API origin (an Enterprise account has its own).
	BaseURL string `koanf:"base_url"`
	// AccessKey and SecretKey are an Onshape API key pair (secret).
	AccessKey string `koanf:"access_key"`
	SecretKey string `koanf:"secret_key"`
}

// WorkflowConfig defines a custom workflow in the config file.
type WorkflowConfig struct {
	// Name is what the workflow setting calls it.
	Name string `koanf:"name"`
	// Stages are the categories in board order.
	Stages []string `koanf:"stages"`
	// Initial is where new parts start (default: the first stage).
	Initial string `koanf:"initial"`
	// Done is the stage of finished parts (default: completed, else the last).
	Done string `koanf:"done"`
	// Rules is the transition table.
	Rules []RuleConfig `koanf:"rules"`
}

// RuleConfig is one rule of a custom workflow (see parts.Rule).
type RuleConfig struct {
	// Action is approve, assign, unclaim, start, complete, revert or set-status.
	Action string `koanf:"action"`
	// Target is the status a set-status rule handles.
	Target string `koanf:"target"`
	// From lists the stages the rule applies from.
	From []string `koanf:"from"`
	// To is the resulting stage ("" keeps it, "by-type" picks cnc or hand).
	To string `koanf:"to"`
	// Status is the resulting status ("" is the action's own).
	Status string `koanf:"status"`
}

// spec converts the configuration to a parts.WorkflowSpec.
func (w WorkflowConfig) spec() parts.WorkflowSpec {
	cats := func(ss []string) []parts.Category {
		out := make([]parts.Category, len(ss))
		for i, s := range ss {
			out[i] = parts.Category(s)
		}
		return out
	}
	spec := parts.WorkflowSpec{Name: w.Name, Stages: cats(w.Stages), Initial: parts.Category(w.Initial), Done: parts.Category(w.Done)}
	for _, r := range w.Rules {
		spec.Rules = append(spec.Rules, parts.Rule{Action: parts.Action(r.Action), Target: parts.Status(r.Target),
			From: cats(r.From), To: parts.Category(r.To), Status: parts.Status(r.Status)})
	}
	return spec
}

// WorkflowValue is the validated workflow the workflow setting names.
func (c *Config) WorkflowValue() *parts.Workflow {
	if c.flow == nil {
		return parts.OriginalWorkflow()
	}
	return c.flow
}

// PluginConfig describes one converter plugin process.
type PluginConfig struct {
	// Name identifies the plugin.
	Name string `koanf:"name"`
	// Command is the program and its arguments.
	Command []string `koanf:"command"`
	// Formats the plugin handles, e.g. "step".
	Formats []string `koanf:"formats"`
	// PoolSize is the number of plugin processes (default 1).
	PoolSize int `koanf:"pool_size"`
	// Timeout is the deadline for one conversion (default 120s).
	Timeout time.Duration `koanf:"timeout"`
	// MemoryLimit caps each plugin process's address space (default, and
	// when 0: 4 GiB).
	MemoryLimit ByteSize `koanf:"memory_limit"`
	// Options are conversion options for this plugin: linear_tolerance,
	// angular_tolerance (numbers), relative_tolerance, merge_primitives
	// (true/false).
	Options map[string]string `koanf:"options"`
	// Env sets environment variables of the plugin's processes (settings
	// or secrets a converter needs), on top of the few it inherits (PATH,
	// HOME, TMPDIR, LANG, LC_ALL). `partflow config` masks the values.
	Env map[string]string `koanf:"env"`
}

// Plugin defaults applied to entries that leave a field unset.
const (
	defaultPluginPoolSize = 1
	defaultPluginTimeout  = 120 * time.Second
	maxPluginPoolSize     = 64
)

// DatabaseDSN returns the normalised database URL for the storage
// registry: "sqlite:///ABS/PATH.db" for a SQLite file, "sqlite://:memory:"
// for an in-memory database, and postgres URLs unchanged.
func (c *Config) DatabaseDSN() string { return c.dbDSN }

// FilesDSN returns the normalised file store URL: "file:///ABS/DIR" for a
// local folder, other schemes (mem://, s3://, ...) unchanged.
func (c *Config) FilesDSN() string { return c.filesDSN }

// DataDir is the directory that holds the SQLite database, where the
// generated API key is stored beside it. It is "" when the database is not
// a local file (in memory or postgres): nothing is stored then.
func (c *Config) DataDir() string {
	if c.dbPath == "" {
		return ""
	}
	return filepath.Dir(c.dbPath)
}

// WorkDir returns the directory of conversion jobs and plugin job
// directories, "tmp" in the data directory, or "" without one (the
// system's temporary directory is used then).
func (c *Config) WorkDir() string {
	if dir := c.DataDir(); dir != "" {
		return filepath.Join(dir, "tmp")
	}
	return ""
}

// TrustedProxyPrefixes returns the parsed trusted_proxies.
func (c *Config) TrustedProxyPrefixes() []netip.Prefix {
	return append([]netip.Prefix(nil), c.trusted...)
}

// Source reports where the effective value of key (as printed by
// `partflow config`, e.g. "log.level" or "api_keys") came from.
func (c *Config) Source(key string) Source {
	if s, ok := c.sources[key]; ok {
		return s
	}
	return Source{Layer: LayerDefault}
}

// SlogLevel returns Log.Level as a slog.Level.
func (c *Config) SlogLevel() slog.Level {
	switch c.Log.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// NewLogger returns a slog logger writing to w in the configured format
// and level.
func (c *Config) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if c.Log.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	if c.ReplicaID != "" {
		return slog.New(h).With("replica", c.ReplicaID)
	}
	return slog.New(h)
}

// Layer names a configuration layer.
type Layer string

// The configuration layers, lowest precedence first.
const (
	LayerDefault Layer = "default"
	LayerProfile Layer = "profile"
	LayerFile    Layer = "file"
	LayerEnv     Layer = "env"
	LayerFlag    Layer = "flag"
)

// Source is where one effective setting came from.
type Source struct {
	// Layer is the layer that set the value last.
	Layer Layer
	// Detail names the profile, file, environment variable or flag.
	Detail string
}

// Explicit reports whether the value was set by the operator (file,
// environment or flag) rather than by a default.
func (s Source) Explicit() bool {
	return s.Layer == LayerFile || s.Layer == LayerEnv || s.Layer == LayerFlag
}

// String formats the source as "env PORT", "file partflow.yaml", "default".
func (s Source) String() string {
	if s.Detail == "" {
		return string(s.Layer)
	}
	return string(s.Layer) + " " + s.Detail
}

// ByteSize is a size in bytes. In configuration it is an integer number
// of bytes or a number with a unit: B, KB, MB, GB (powers of 1000) or K,
// KiB, M, MiB, G, GiB (powers of 1024), e.g. "200MiB".
type ByteSize int64

// String formats the size with the largest exact binary unit.
func (b ByteSize) String() string {
	units := []struct {
		name string
		n    int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	for _, u := range units {
		if b != 0 && int64(b)%u.n == 0 {
			return strconv.FormatInt(int64(b)/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// ParseByteSize parses a ByteSize, see ByteSize for the syntax.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" {
		return 0, fmt.Errorf("invalid size %q: want bytes or a number with a unit such as 200MiB", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"kb": 1e3, "mb": 1e6, "gb": 1e9,
		"k": 1 << 10, "kib": 1 << 10,
		"m": 1 << 20, "mib": 1 << 20,
		"g": 1 << 30, "gib": 1 << 30,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (want B, KB, MB, GB, KiB, MiB, GiB)", s, t[i:])
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid size %q: %w", s, err)
		}
		if n > (1<<63-1)/int64(mult) {
			return 0, fmt.Errorf("invalid size %q: too large", s)
		}
		return ByteSize(n * int64(mult)), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w", s, err)
	}
	v := f * mult
	if v >= 1<<62 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return ByteSize(v), nil
}
