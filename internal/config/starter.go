package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Starter holds the values `partflow init` asks for and writes into a new
// config file, with a fresh API key.
type Starter struct {
	// Env is the profile: development, testing or production.
	Env string
	// Addr is the listen address; Check fills in the profile's when empty.
	Addr string
	// DatabaseURL is the database URL as it will be written.
	DatabaseURL string
	// FilesURL is the file store folder or URL as it will be written.
	FilesURL string
}

// Check validates the values and fills in an empty Addr with the
// profile's. It returns every problem, each prefixed with its setting.
func (s *Starter) Check() error {
	s.Env = strings.ToLower(strings.TrimSpace(s.Env))
	addr, ok := ProfileAddr(s.Env)
	if !ok {
		return fmt.Errorf("env: unknown profile %q (want %s)", s.Env, strings.Join(profileNames, ", "))
	}
	if s.Addr == "" {
		s.Addr = addr
	}
	var errs []error
	for _, v := range []struct {
		key   string
		check func(string) error
		val   string
	}{
		{"addr", CheckAddr, s.Addr},
		{"database_url", func(v string) error { _, _, err := NormalizeDatabaseURL(v); return err }, s.DatabaseURL},
		{"files_url", func(v string) error { _, err := NormalizeFilesURL(v); return err }, s.FilesURL},
	} {
		if err := v.check(v.val); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v.key, err))
		}
	}
	if s.Env == ProfileProduction && strings.Contains(s.DatabaseURL, ":memory:") {
		errs = append(errs, errors.New("database_url: production refuses an in-memory database"))
	}
	return errors.Join(errs...)
}

// ProfileAddr returns the listen address profile name defaults to, or
// false for an unknown profile.
func ProfileAddr(name string) (string, bool) {
	prof, ok := profileDefaults(name)
	if !ok {
		return "", false
	}
	return prof["addr"].(string), true
}

// CheckAddr validates a listen address, host:port.
func CheckAddr(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("invalid port %q", port)
	}
	return nil
}

// cascadioCommand is the python of the cascadio plugin's virtualenv: the one
// make venv set up when it is found, else its path in a checkout.
func cascadioCommand() string {
	if py, ok := CascadioPython(); ok {
		return py
	}
	return filepath.Join("plugins", "cascadio", ".venv", "bin", "python")
}

// Render returns the commented YAML config file with key as its api_key;
// path is the file's name, which its comments quote. Call Check first.
func (s Starter) Render(key, path string) string {
	prof, _ := profileDefaults(s.Env)
	q := strconv.Quote
	logFormat, _ := prof["log.format"].(string)
	if logFormat == "" {
		logFormat = "text"
	}
	allowQuery, _ := prof["allow_query_api_key"].(bool)
	return fmt.Sprintf(starterTemplate, path, q(s.Env), q(s.Addr), q(s.DatabaseURL), q(s.FilesURL), q(key),
		logFormat, allowQuery, q(cascadioCommand()))
}

// Write writes the file Render makes to path with mode 0600. Without force
// it fails if path exists (atomically, O_EXCL); with force it replaces the
// file through a temporary file and a rename. Call Check first.
func (s Starter) Write(path, key string, force bool) error {
	data := s.Render(key, path)
	if !force {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s already exists; use --force to overwrite it", path)
			}
			return fmt.Errorf("create %s: %w", path, err)
		}
		if _, err := f.WriteString(data); err != nil {
			f.Close()
			os.Remove(path)
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			os.Remove(path)
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".partflow-init-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// starterTemplate is the file Render fills in: %[1]s the file's path, then
// the quoted env, addr, database_url, files_url and api_key, the log
// format, allow_query_api_key and the quoted cascadio python.
const starterTemplate = `# Partflow configuration, written by ` + "`partflow init`" + `.
# Start the server with:  partflow serve --config %[1]s   (or PARTFLOW_CONFIG=%[1]s)
# Environment variables (PARTFLOW_<SETTING>, PARTFLOW_LOG__LEVEL for nested
# ones) and flags override this file; ` + "`partflow config --config %[1]s`" + ` shows
# the result and where each value came from.
# Relative paths are relative to the directory the server starts in.
# This file holds the API key: keep it private (it is written with mode 0600).

# Profile: development, testing or production.
env: %[2]s

# Listen address host:port. PORT in the environment replaces only the port.
addr: %[3]s

# Database: sqlite:///relative/path.db or sqlite:////absolute/path.db
database_url: %[4]s

# Where uploaded and converted files are kept: a folder, file:///dir, mem://, s3://bucket
files_url: %[5]s

# The shared API key, generated at random. Clients send it in the X-API-Key header.
api_key: %[6]s

# Further keys with a name and a role (read-only, editor or admin):
# api_keys:
#   - name: ci
#     key: "a-long-random-key"
#     role: read-only

# Browser origins allowed to call the API (CORS), e.g. a dev server:
# cors_origins: ["http://localhost:5173"]

# Serve under a URL prefix, e.g. behind nginx at /part-management-system:
# base_path: ""

# A built web client to serve at base_path:
# static_dir: ./dist

# Limits and uploads:
# max_body_bytes: 1MiB
# max_file_size: 200MiB
# allowed_extensions: [step, stp, pdf]

# Caches of encoded answers, and the Go runtime's soft memory limit:
# cache:
#   part_bytes: 80MiB
#   answer_bytes: 96MiB
# memory_limit: 340MiB

# log:
#   level: info     # debug, info, warn or error
#   format: %[7]s     # text or json

# Reverse proxies whose X-Forwarded-For header is believed:
# trusted_proxies: ["127.0.0.1/32"]

# Accept the key in ?api_key= URLs (such URLs end up in proxy logs):
# allow_query_api_key: %[8]t

# Converter plugins and how long requests wait for a conversion. With no
# plugins, serve starts the cascadio plugin that make venv set up; this entry
# is that plugin with its settings spelled out (a non-empty list replaces the
# default, so keep cascadio in it when adding others). env sets variables for
# the plugin process only (settings or secrets a converter needs).
# plugins:
#   - name: cascadio
#     command: [%[9]s, -m, partflow_cascadio]
#     formats: [step, iges]
#     pool_size: 2
#     timeout: 2m
#     memory_limit: 4GiB
#     options: {linear_tolerance: "0.01"}
#     env: {OMP_NUM_THREADS: "1"}
# convert:
#   wait: 2s
# model_wait: 30s

# Workflow table: original (the original API's: every action but revert from
# any column), strict (parts move forward through their columns), or the
# name of a custom workflow defined under workflows: (see the README):
# workflow: original
`
