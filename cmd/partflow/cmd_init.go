package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/partflow/partflow/internal/config"
)

// Defaults `partflow init` offers.
const (
	initDefaultPath  = "partflow.yaml"
	initDefaultEnv   = config.ProfileProduction
	initDefaultDB    = "sqlite:///./data/partflow.db"
	initDefaultFiles = "./data/files"
	initMaxAttempts  = 3
)

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
	ans := config.Starter{Env: *env, Addr: *addr, DatabaseURL: *db, FilesURL: *files}
	ask := isTerminal(c.stdin)
	if fs.Changed("interactive") {
		ask = *interactive
	}
	var err error
	if ask {
		ans, err = c.prompt(ans)
	} else {
		err = ans.Check()
	}
	if err != nil {
		c.errorf("init: %v", err)
		return exitUsage
	}
	key, err := config.NewAPIKey()
	if err != nil {
		c.errorf("init: %v", err)
		return exitError
	}
	if err := ans.Write(*path, key, *force); err != nil {
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

// prompt asks for each answer on c.stdout, reading lines from c.stdin.
// An empty line keeps the offered value; an invalid one is asked again,
// up to initMaxAttempts times. At the end of input the offered values are
// kept.
func (c *cli) prompt(a config.Starter) (config.Starter, error) {
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
	if a.Env, err = ask("Profile (development, testing, production)", a.Env, func(s string) error {
		if _, ok := config.ProfileAddr(strings.ToLower(s)); !ok {
			return fmt.Errorf("unknown profile %q", s)
		}
		return nil
	}); err != nil {
		return a, err
	}
	a.Env = strings.ToLower(a.Env)
	if a.Addr == "" {
		a.Addr, _ = config.ProfileAddr(a.Env)
	}
	if a.Addr, err = ask("Listen address", a.Addr, config.CheckAddr); err != nil {
		return a, err
	}
	if a.DatabaseURL, err = ask("Database URL", a.DatabaseURL, func(s string) error {
		_, _, err := config.NormalizeDatabaseURL(s)
		return err
	}); err != nil {
		return a, err
	}
	if a.FilesURL, err = ask("Files folder", a.FilesURL, func(s string) error {
		_, err := config.NormalizeFilesURL(s)
		return err
	}); err != nil {
		return a, err
	}
	return a, a.Check()
}
