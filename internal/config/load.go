package config

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	kjson "github.com/knadh/koanf/parsers/json"
	kyaml "github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// envPrefix is the prefix of partflow's own environment variables.
const envPrefix = "PARTFLOW_"

// envConfigFile names the config file when --config is not given.
const envConfigFile = "PARTFLOW_CONFIG"

// flagKeys maps configuration flags to settings.
var flagKeys = map[string]string{
	"env":                 "env",
	"addr":                "addr",
	"database-url":        "database_url",
	"files-url":           "files_url",
	"cors-origins":        "cors_origins",
	"base-path":           "base_path",
	"static":              "static_dir",
	"max-body-bytes":      "max_body_bytes",
	"max-file-size":       "max_file_size",
	"allowed-extensions":  "allowed_extensions",
	"log-level":           "log.level",
	"log-format":          "log.format",
	"trusted-proxies":     "trusted_proxies",
	"allow-query-api-key": "allow_query_api_key",
	"convert-wait":        "convert.wait",
	"model-wait":          "model_wait",
	"workflow":            "workflow",
	"gc-grace":            "gc.grace",
	"gc-interval":         "gc.interval",
}

// FlagAnnotation annotates the flags AddFlags adds, so a command's help
// lists its own flags first.
const FlagAnnotation = "partflow-config"

// AddFlags adds the configuration flags every config-reading command
// accepts. There is deliberately no --api-key flag: command lines are
// visible to every user of the machine.
func AddFlags(fs *pflag.FlagSet) {
	own := map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) { own[f.Name] = true })
	defer fs.VisitAll(func(f *pflag.Flag) {
		if !own[f.Name] {
			_ = fs.SetAnnotation(f.Name, FlagAnnotation, []string{"true"})
		}
	})
	fs.StringP("config", "c", "", "config file (YAML or JSON by extension; also "+envConfigFile+")")
	fs.String("env", "", "profile: development, testing or production (also PARTFLOW_ENV, FLASK_ENV)")
	fs.String("addr", "", "listen address host:port (PORT sets only the port)")
	fs.String("database-url", "", "database URL: sqlite:///relative.db, sqlite:////absolute.db, sqlite://:memory:")
	fs.String("files-url", "", "file store: a folder, file:///dir, mem://, s3://...")
	fs.StringSlice("cors-origins", nil, "allowed CORS origins, comma-separated")
	fs.String("base-path", "", "URL prefix to serve under, e.g. /part-management-system")
	fs.String("static", "", "directory of a built web client to serve")
	fs.String("max-body-bytes", "", "JSON request body limit, e.g. 1MiB")
	fs.String("max-file-size", "", "upload size limit, e.g. 200MiB")
	fs.StringSlice("allowed-extensions", nil, "upload extensions, comma-separated")
	fs.String("log-level", "", "log level: debug, info, warn, error")
	fs.String("log-format", "", "log format: text or json")
	fs.StringSlice("trusted-proxies", nil, "CIDRs of reverse proxies whose X-Forwarded-For is trusted")
	fs.Bool("allow-query-api-key", false, "accept the API key in the api_key query parameter")
	fs.Duration("convert-wait", 0, "how long an upload waits for its conversion")
	fs.Duration("model-wait", 0, "how long GET .../model waits for a conversion")
	fs.String("workflow", "", "workflow table: original (default) or strict")
	fs.Duration("gc-grace", 0, "how old an unreferenced file or crash leftover must be before gc removes it")
	fs.Duration("gc-interval", 0, "how often a running server collects unreferenced files and crash leftovers")
}

// Error is an invalid setting. Key is the setting's name as in
// config files; Source says where the bad value came from.
type Error struct {
	// Key is the setting, e.g. "log.level" or "api_keys[0].role".
	Key string
	// Source is the layer that gave the bad value ("" when none did).
	Source Source
	// Msg says what is wrong.
	Msg string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Source.Layer == "" {
		return fmt.Sprintf("config: %s: %s", e.Key, e.Msg)
	}
	return fmt.Sprintf("config: %s: %s (from %s)", e.Key, e.Msg, e.Source)
}

// Load parses args (the flags after the command name; no positional
// arguments) and environ (KEY=VALUE pairs as from os.Environ), loads and
// validates the configuration, and writes warnings to out. It never reads
// the process environment.
func Load(args []string, environ []string, out io.Writer) (*Config, error) {
	fs := pflag.NewFlagSet("partflow", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("usage: unexpected argument %q", fs.Arg(0))
	}
	return LoadFlags(fs, environ, out)
}

// LoadFlags loads the configuration given a parsed flag set that has
// the flags of AddFlags (and possibly others, which are ignored).
func LoadFlags(fs *pflag.FlagSet, environ []string, out io.Writer) (*Config, error) {
	l := &loader{fs: fs, env: parseEnviron(environ), out: out, merged: koanf.New("."), sources: map[string]Source{}}
	fileK, fileSrc, err := l.readFile()
	if err != nil {
		return nil, err
	}
	profile, profileSrc, err := l.chooseProfile(fileK, fileSrc)
	if err != nil {
		return nil, err
	}
	if err := l.mergeDefaults(profile); err != nil {
		return nil, err
	}
	if fileK != nil {
		if err := l.merge(fileK, fixed(fileSrc)); err != nil {
			return nil, err
		}
	}
	if err := l.mergeEnv(); err != nil {
		return nil, err
	}
	if err := l.mergeFlags(); err != nil {
		return nil, err
	}
	// The profile decided above is the effective one whatever layer named it.
	if err := l.merged.Set("env", profile); err != nil {
		return nil, fmt.Errorf("config: set env: %w", err)
	}
	l.sources["env"] = profileSrc
	return l.decode()
}

// loader merges the layers into one koanf instance, remembering the
// source of each key.
type loader struct {
	fs      *pflag.FlagSet
	env     map[string]string
	out     io.Writer
	merged  *koanf.Koanf
	sources map[string]Source
}

// fixed is a source function that gives every key the same source.
func fixed(s Source) func(string) Source { return func(string) Source { return s } }

// merge merges layer, whose keys come from src(key).
func (l *loader) merge(layer *koanf.Koanf, src func(key string) Source) error {
	if err := l.merged.Merge(layer); err != nil {
		return fmt.Errorf("config: merge: %w", err)
	}
	for _, key := range layer.Keys() {
		l.sources[key] = src(key)
	}
	return nil
}

// readFile reads the config file --config or PARTFLOW_CONFIG names, or
// returns nil without one. Unknown settings in it are errors.
func (l *loader) readFile() (*koanf.Koanf, Source, error) {
	path, _ := l.fs.GetString("config")
	if !l.fs.Changed("config") {
		path = l.env[envConfigFile]
	}
	if path == "" {
		return nil, Source{}, nil
	}
	fileK, fileSrc := koanf.New("."), Source{Layer: LayerFile, Detail: path}
	if err := loadFile(fileK, path); err != nil {
		return nil, fileSrc, err
	}
	for _, key := range fileK.Keys() {
		if !knownKey(key) {
			return nil, fileSrc, &Error{Key: key, Source: fileSrc, Msg: "unknown setting" + suggest(key)}
		}
	}
	return fileK, fileSrc, nil
}

// chooseProfile picks the profile: flag > PARTFLOW_ENV > FLASK_ENV > file
// > default. fileK is nil without a config file.
func (l *loader) chooseProfile(fileK *koanf.Koanf, fileSrc Source) (string, Source, error) {
	profile, src := ProfileDevelopment, Source{Layer: LayerDefault}
	switch {
	case l.fs.Changed("env"):
		profile, _ = l.fs.GetString("env")
		src = Source{Layer: LayerFlag, Detail: "--env"}
	case l.env[envPrefix+"ENV"] != "":
		profile, src = l.env[envPrefix+"ENV"], Source{Layer: LayerEnv, Detail: envPrefix + "ENV"}
	case l.env["FLASK_ENV"] != "":
		profile, src = l.env["FLASK_ENV"], Source{Layer: LayerEnv, Detail: "FLASK_ENV"}
	case fileK != nil && fileK.String("env") != "":
		profile, src = fileK.String("env"), fileSrc
	}
	profile = strings.ToLower(strings.TrimSpace(profile))
	if _, ok := profileDefaults(profile); !ok {
		return "", src, &Error{Key: "env", Source: src, Msg: fmt.Sprintf("unknown profile %q (want %s)", profile, strings.Join(profileNames, ", "))}
	}
	return profile, src, nil
}

// mergeDefaults merges the built-in defaults, then profile's.
func (l *loader) mergeDefaults(profile string) error {
	defK := koanf.New(".")
	if err := defK.Load(confmap.Provider(baseDefaults(), "."), nil); err != nil {
		return fmt.Errorf("config: load defaults: %w", err)
	}
	if err := l.merge(defK, fixed(Source{Layer: LayerDefault})); err != nil {
		return err
	}
	profDefaults, _ := profileDefaults(profile)
	profDefaults["env"] = profile
	profK := koanf.New(".")
	if err := profK.Load(confmap.Provider(profDefaults, "."), nil); err != nil {
		return fmt.Errorf("config: load profile %s: %w", profile, err)
	}
	return l.merge(profK, fixed(Source{Layer: LayerProfile, Detail: profile}))
}

// mergeEnv merges the environment layer; PORT needs the address the
// lower layers give.
func (l *loader) mergeEnv() error {
	envMap, envNames, err := envLayer(l.env, l.merged.String("addr"), l.out)
	if err != nil {
		return err
	}
	envK := koanf.New(".")
	if err := envK.Load(confmap.Provider(envMap, "."), nil); err != nil {
		return fmt.Errorf("config: load environment: %w", err)
	}
	return l.merge(envK, func(key string) Source { return Source{Layer: LayerEnv, Detail: envNames[key]} })
}

// mergeFlags merges the flag layer. Given the merged instance, posflag
// skips every flag the user did not set, because every setting exists in
// the defaults.
func (l *loader) mergeFlags() error {
	flagK := koanf.New(".")
	flagNames := map[string]string{}
	prov := posflag.ProviderWithFlag(l.fs, ".", l.merged, func(f *pflag.Flag) (string, any) {
		key, ok := flagKeys[f.Name]
		if !ok {
			return "", nil
		}
		flagNames[key] = "--" + f.Name
		return key, posflag.FlagVal(l.fs, f)
	})
	if err := flagK.Load(prov, nil); err != nil {
		return fmt.Errorf("config: load flags: %w", err)
	}
	return l.merge(flagK, func(key string) Source { return Source{Layer: LayerFlag, Detail: flagNames[key]} })
}

// loadFile loads a YAML or JSON file into k.
func loadFile(k *koanf.Koanf, path string) error {
	var parser koanf.Parser
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		parser = kyaml.Parser()
	case ".json":
		parser = kjson.Parser()
	default:
		return fmt.Errorf("config file %s: unknown extension %q (want .yaml, .yml or .json)", path, filepath.Ext(path))
	}
	if err := k.Load(file.Provider(path), parser); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// knownKey reports whether key is a setting.
func knownKey(key string) bool {
	_, ok := baseDefaults()[key]
	return ok
}

// suggest returns a hint for a mistyped key such as log_level.
func suggest(key string) string {
	alt := strings.Replace(key, "_", ".", 1)
	if alt != key && knownKey(alt) {
		return fmt.Sprintf("; did you mean %s (PARTFLOW_%s)?", alt, strings.ToUpper(strings.ReplaceAll(alt, ".", "__")))
	}
	return ""
}
