package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/partflow/partflow/convert"
)

// CascadioPython finds the cascadio plugin's virtualenv that `make venv`
// creates: under the working directory (make run) or beside the binary's
// directory (bin/partflow in a checkout).
func CascadioPython() (string, bool) {
	rel := filepath.Join("plugins", "cascadio", ".venv", "bin", "python")
	candidates := []string{rel}
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), "..", rel))
	}
	for _, c := range candidates {
		if abs, err := filepath.Abs(c); err == nil {
			if st, err := os.Stat(abs); err == nil && !st.IsDir() {
				return abs, true
			}
		}
	}
	return "", false
}

// PluginsToStart returns the configured plugins, or, when none are
// configured, the cascadio plugin if `make venv` has set it up, or nil
// when it has not (STEP conversion is off then).
func (c *Config) PluginsToStart() []PluginConfig {
	if len(c.Plugins) > 0 {
		return c.Plugins
	}
	py, ok := CascadioPython()
	if !ok {
		return nil
	}
	return []PluginConfig{{Name: "cascadio", Command: []string{py, "-m", "partflow_cascadio"},
		Formats: []string{"step", "iges"}, PoolSize: defaultPluginPoolSize, Timeout: defaultPluginTimeout}}
}

// ConvertOptions parses the plugin's options map (see PluginConfig.Options).
func (p PluginConfig) ConvertOptions() (convert.Options, error) {
	var o convert.Options
	for k, v := range p.Options {
		switch k {
		case "linear_tolerance", "angular_tolerance":
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return o, fmt.Errorf("option %s: %q is not a number", k, v)
			}
			if k == "linear_tolerance" {
				o.LinearTolerance = &f
			} else {
				o.AngularTolerance = &f
			}
		case "relative_tolerance", "merge_primitives":
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return o, fmt.Errorf("option %s: %q is not true or false", k, v)
			}
			if k == "relative_tolerance" {
				o.RelativeTolerance = &b
			} else {
				o.MergePrimitives = &b
			}
		default:
			return o, fmt.Errorf("unknown option %q (want linear_tolerance, angular_tolerance, relative_tolerance, merge_primitives)", k)
		}
	}
	return o, o.Validate()
}
