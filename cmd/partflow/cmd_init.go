package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/term"
)

// Defaults `partflow init` offers.
const (
	initDefaultPath  = "partflow.yaml"
	initDefaultEnv   = ProfileProduction
	initDefaultDB    = "sqlite:///./data/partflow.db"
	initDefaultFiles = "./data/files"
	initMaxAttempts  = 3
)

// initAnswers are the values `partflow init` writes.
type initAnswers struct {
	env, addr, databaseURL, filesURL string
}

// init writes a commented config file with a fresh random API key. It
// asks for the profile, address, database and files folder when stdin is
// a terminal (or with --interactive), and takes flags or defaults
// otherwise. It never replaces an existing file without --force.
func (c *cli) init(_ context.Context, args []string) int {
	fs := c.flagSet("init")
	path := fs.String("path", initDefaultPath, "YAML file to write")
	force := fs.Bool("force", false, "overwrite an existing file")
	interactive := fs.Bool("interactive", false, "ask for each value (default: when stdin is a terminal)")
	env := fs.String("env", initDefaultEnv, "profile to write: development, testing or production")
	addr := fs.String("addr", "", "listen address (default: the profile's)")
	db := fs.String("database-url", initDefaultDB, "database URL")
	files := fs.String("files-url", initDefaultFiles, "files folder or URL")
	if code := c.parse(fs, args); code >= 0 {
		return code
	}
	ext := strings.ToLower(filepath.Ext(*path))
	if ext != ".yaml" && ext != ".yml" {
		c.errorf("init: --path %s: want a .yaml or .yml file", *path)
		return exitUsage
	}
	if !*force {
		if _, err := os.Lstat(*path); err == nil {
			c.errorf("init: %s already exists; use --force to overwrite it", *path)
			return exitError
		}
	}
	ans := initAnswers{env: *env, addr: *addr, databaseURL: *db, filesURL: *files}
	ask := isTerminal(c.stdin)
	if fs.Changed("interactive") {
		ask = *interactive
	}
	var err error
	if ask {
		ans, err = c.prompt(ans)
	} else {
		err = ans.check()
	}
	if err != nil {
		c.errorf("init: %v", err)
		return exitUsage
	}
	key, err := newAPIKey()
	if err != nil {
		c.errorf("init: %v", err)
		return exitError
	}
	if err := writeConfigFile(*path, renderConfig(ans, key, *path), *force); err != nil {
		c.errorf("init: %v", err)
		return exitError
	}
	fmt.Fprintf(c.stdout, "Wrote %s (mode 0600) with a new random API key (api_key in the file).\nStart the server with:\n\n    partflow serve --config %s\n", *path, *path)
	return exitOK
}

// isTerminal reports whether r is an interactive terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// check validates and fills in the answers.
func (a *initAnswers) check() error {
	a.env = strings.ToLower(strings.TrimSpace(a.env))
	prof, ok := profileDefaults(a.env)
	if !ok {
		return fmt.Errorf("env: unknown profile %q (want %s)", a.env, strings.Join(profileNames, ", "))
	}
	if a.addr == "" {
		a.addr = prof["addr"].(string)
	}
	var errs []error
	for _, v := range []struct {
		key   string
		check func(string) error
		val   string
	}{
		{"addr", checkAddr, a.addr},
		{"database_url", func(s string) error { _, _, err := normalizeDatabaseURL(s); return err }, a.databaseURL},
		{"files_url", func(s string) error { _, err := normalizeFilesURL(s); return err }, a.filesURL},
	} {
		if err := v.check(v.val); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v.key, err))
		}
	}
	if a.env == ProfileProduction && strings.Contains(a.databaseURL, ":memory:") {
		errs = append(errs, errors.New("database_url: production refuses an in-memory database"))
	}
	return errors.Join(errs...)
}

// checkAddr validates a listen address.
func checkAddr(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("invalid port %q", port)
	}
	return nil
}

// prompt asks for each answer on c.stdout, reading lines from c.stdin.
// An empty line keeps the offered value; an invalid one is asked again,
// up to initMaxAttempts times. At the end of input the offered values are
// kept.
func (c *cli) prompt(a initAnswers) (initAnswers, error) {
	in := bufio.NewReader(c.stdin)
	eof := false
	ask := func(question, current string, valid func(string) error) (string, error) {
		for attempt := 0; attempt < initMaxAttempts; attempt++ {
			if eof {
				return current, valid(current)
			}
			fmt.Fprintf(c.stdout, "%s [%s]: ", question, current)
			line, err := in.ReadString('\n')
			if err != nil {
				if !errors.Is(err, io.EOF) {
					return "", fmt.Errorf("read answer: %w", err)
				}
				eof = true
				fmt.Fprintln(c.stdout)
			}
			answer := strings.TrimSpace(line)
			if answer == "" {
				answer = current
			}
			if err := valid(answer); err != nil {
				fmt.Fprintf(c.stdout, "  %v\n", err)
				continue
			}
			return answer, nil
		}
		return "", fmt.Errorf("%s: no valid answer after %d attempts", question, initMaxAttempts)
	}
	var err error
	if a.env, err = ask("Profile (development, testing, production)", a.env, func(s string) error {
		if _, ok := profileDefaults(strings.ToLower(s)); !ok {
			return fmt.Errorf("unknown profile %q", s)
		}
		return nil
	}); err != nil {
		return a, err
	}
	a.env = strings.ToLower(a.env)
	if a.addr == "" {
		prof, _ := profileDefaults(a.env)
		a.addr = prof["addr"].(string)
	}
	if a.addr, err = ask("Listen address", a.addr, checkAddr); err != nil {
		return a, err
	}
	if a.databaseURL, err = ask("Database URL", a.databaseURL, func(s string) error {
		_, _, err := normalizeDatabaseURL(s)
		return err
	}); err != nil {
		return a, err
	}
	if a.filesURL, err = ask("Files folder", a.filesURL, func(s string) error {
		_, err := normalizeFilesURL(s)
		return err
	}); err != nil {
		return a, err
	}
	return a, a.check()
}

// cascadioCommand is the python of the cascadio plugin's virtualenv: the one
// make venv set up when it is found, else its path in a checkout.
func cascadioCommand() string {
	if py, ok := cascadioPython(); ok {
		return py
	}
	return filepath.Join("plugins", "cascadio", ".venv", "bin", "python")
}

// renderConfig returns the commented YAML config file.
func renderConfig(a initAnswers, key, path string) string {
	prof, _ := profileDefaults(a.env)
	q := strconv.Quote
	logFormat, _ := prof["log.format"].(string)
	if logFormat == "" {
		logFormat = "text"
	}
	allowQuery, _ := prof["allow_query_api_key"].(bool)
	return fmt.Sprintf(`# Partflow configuration, written by `+"`partflow init`"+`.
# Start the server with:  partflow serve --config %[1]s   (or PARTFLOW_CONFIG=%[1]s)
# Environment variables (PARTFLOW_<SETTING>, PARTFLOW_LOG__LEVEL for nested
# ones) and flags override this file; `+"`partflow config --config %[1]s`"+` shows
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
# memory_limit: 360MiB

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
`, path, q(a.env), q(a.addr), q(a.databaseURL), q(a.filesURL), q(key), logFormat, allowQuery, q(cascadioCommand()))
}

// writeConfigFile writes data to path with mode 0600. Without force it
// fails if path exists (atomically, O_EXCL); with force it replaces the
// file through a temporary file and a rename.
func writeConfigFile(path, data string, force bool) error {
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
