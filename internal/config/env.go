package config

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
)

// listKeys are the settings that take a comma-separated list in the
// environment (and in files, as an alternative to a YAML list).
var listKeys = map[string]bool{
	"cors_origins":       true,
	"allowed_extensions": true,
	"trusted_proxies":    true,
}

// structuredKeys take a JSON array in the environment.
var structuredKeys = map[string]bool{"api_keys": true, "plugins": true, "webhooks": true, "workflows": true, "policy": true}

// originalEnv maps the original Flask deployment's variables to settings,
// in the order they apply. PORT is handled separately: it replaces the port
// of the address. FLASK_ENV is read while choosing the profile. Partflow's
// own PARTFLOW_ variables win over these.
var originalEnv = []struct{ name, key string }{
	{"FLASK_ENV", "env"},
	{"SECRET_KEY", "api_key"},
	{"DATABASE_URL", "database_url"},
	{"CORS_ORIGINS", "cors_origins"},
	{"UPLOAD_FOLDER", "files_url"},
	{"MAX_FILE_SIZE", "max_file_size"},
	{"ALLOWED_EXTENSIONS", "allowed_extensions"},
	{"BASE_PATH", "base_path"},
}

// parseEnviron turns KEY=VALUE pairs into a map; later pairs win.
func parseEnviron(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

// envLayer builds the environment layer as a flat map and the variable
// that set each key. Empty variables count as unset. Unknown PARTFLOW_
// variables are reported to out and ignored.
func envLayer(vars map[string]string, baseAddr string, out io.Writer) (map[string]any, map[string]string, error) {
	values := map[string]any{}
	names := map[string]string{}
	set := func(key, name, raw string) error {
		v, err := envValue(key, raw)
		if err != nil {
			return &Error{Key: key, Source: Source{Layer: LayerEnv, Detail: name}, Msg: err.Error()}
		}
		values[key], names[key] = v, name
		return nil
	}
	for _, o := range originalEnv {
		if raw := vars[o.name]; raw != "" {
			if err := set(o.key, o.name, raw); err != nil {
				return nil, nil, err
			}
		}
	}
	if port := strings.TrimSpace(vars["PORT"]); port != "" && vars[envPrefix+"ADDR"] == "" {
		src := Source{Layer: LayerEnv, Detail: "PORT"}
		n, err := strconv.Atoi(port)
		if err != nil || n < 0 || n > 65535 {
			return nil, nil, &Error{Key: "addr", Source: src, Msg: fmt.Sprintf("invalid port %q (want 0-65535)", port)}
		}
		host, _, err := net.SplitHostPort(baseAddr)
		if err != nil {
			return nil, nil, &Error{Key: "addr", Msg: fmt.Sprintf("cannot apply PORT to address %q: %v", baseAddr, err)}
		}
		values["addr"], names["addr"] = net.JoinHostPort(host, strconv.Itoa(n)), "PORT"
	}
	var own []string
	for name := range vars {
		if strings.HasPrefix(name, envPrefix) && name != envConfigFile {
			own = append(own, name)
		}
	}
	sort.Strings(own)
	for _, name := range own {
		raw := vars[name]
		if raw == "" {
			continue
		}
		key := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, envPrefix)), "__", ".")
		if !knownKey(key) {
			if _, err := fmt.Fprintf(out, "warning: ignoring %s: unknown setting %q%s\n", name, key, suggest(key)); err != nil {
				return nil, nil, fmt.Errorf("write warning: %w", err)
			}
			continue
		}
		if err := set(key, name, raw); err != nil {
			return nil, nil, err
		}
	}
	return values, names, nil
}

// envValue converts one environment value for key: comma lists for list
// settings, JSON arrays for api_keys and plugins, the string otherwise
// (decoding converts numbers, booleans, sizes and durations).
func envValue(key, raw string) (any, error) {
	switch {
	case structuredKeys[key]:
		var v []any
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return nil, fmt.Errorf("want a JSON array of objects: %v", err)
		}
		return v, nil
	case listKeys[key]:
		return splitList(raw), nil
	}
	return raw, nil
}

// splitList splits a comma-separated list, trimming blanks and dropping
// empty items.
func splitList(s string) []string {
	out := []string{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
