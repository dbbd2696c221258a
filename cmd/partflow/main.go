package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/partflow/partflow/internal/config"
)

// Exit codes.
const (
	exitOK    = 0 // success
	exitError = 1 // the command failed
	exitUsage = 2 // bad flags or an invalid configuration
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one ends the process at once instead
	// of waiting for the graceful shutdown.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cli holds a command run's environment and streams, so that tests run
// commands without touching the process's own.
type cli struct {
	environ []string
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer

	// serveFunc and migrateFunc do the work of serve and migrate once the
	// configuration passed its checks: serve and migrate in production,
	// small recording fakes in tests of the command layer.
	serveFunc   func(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer) error
	migrateFunc func(ctx context.Context, cfg *config.Config, stdout io.Writer) error
}

// newCLI returns a cli with the real serve and migrate.
func newCLI(environ []string, stdin io.Reader, stdout, stderr io.Writer) *cli {
	return &cli{environ: environ, stdin: stdin, stdout: stdout, stderr: stderr, serveFunc: serve, migrateFunc: migrate}
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(c *cli, ctx context.Context, args []string) int
}

// commands lists the subcommands in the order help shows them.
func commands() []command {
	return []command{
		{"serve", "run the HTTP server (the default command)", (*cli).serve},
		{"migrate", "apply database migrations and exit", (*cli).migrate},
		{"config", "print the effective configuration and where each value came from", (*cli).config},
		{"init", "write a commented config file with a fresh random API key", (*cli).init},
		{"seed", "fill the database with realistic sample parts (not in production)", (*cli).seed},
		{"import-flask", "copy an existing Flask deployment's parts and files into Partflow", (*cli).importFlask},
		{"convert", "convert a CAD file offline: partflow convert IN OUT [--plugin NAME]", (*cli).convertCmd},
		{"plugins", "list the converter plugins with their formats, version and health", (*cli).pluginsCmd},
		{"gc", "remove stored files that no part references", (*cli).gc},
		{"copy", "copy a deployment between stores: --from URL --to URL [--files-from URL --files-to URL]", (*cli).copyCmd},
		{"backup", "write an archive of the deployment (database snapshot and files): partflow backup PATH", (*cli).backup},
		{"restore", "restore an archive into an empty deployment: partflow restore PATH [--force]", (*cli).restore},
		{"webhooks", "list the webhook endpoints and their recent delivery attempts", (*cli).webhooksCmd},
		{"keys", "manage per-person API keys: list, create NAME --role R, rotate ID, revoke ID", (*cli).keysCmd},
		{"bench", "load-test a running server through its API", (*cli).bench},
		{"bench-events", "measure a running server's event streams and webhooks under a create load", (*cli).benchEvents},
		{"version", "print the version", (*cli).version},
		{"help", "show this help", (*cli).help},
	}
}

// run runs the partflow command line args (without the program name)
// with the given environment (KEY=VALUE pairs) and streams, and returns
// the exit code. main calls it with the process's own; tests call it
// directly.
func run(ctx context.Context, args []string, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return newCLI(environ, stdin, stdout, stderr).run(ctx, args)
}

// run dispatches args to a command and returns the exit code.
func (c *cli) run(ctx context.Context, args []string) int {
	name, rest := "serve", args
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "-h" || a == "--help":
			return c.help(ctx, nil)
		case a == "--version":
			return c.version(ctx, nil)
		case !strings.HasPrefix(a, "-"):
			name, rest = a, args[1:]
		}
	}
	for _, cmd := range commands() {
		if cmd.name == name {
			return cmd.run(c, ctx, rest)
		}
	}
	c.errorf("unknown command %q; run `partflow help` for the list", name)
	return exitUsage
}

// commandHelp is a command's -h: its one-line description, its own flags
// with their defaults, then the configuration flags, then an example.
func commandHelp(fs *pflag.FlagSet) string {
	name := strings.TrimPrefix(fs.Name(), "partflow ")
	own, shared := pflag.NewFlagSet("", pflag.ContinueOnError), pflag.NewFlagSet("", pflag.ContinueOnError)
	fs.VisitAll(func(f *pflag.Flag) {
		if _, ok := f.Annotations[config.FlagAnnotation]; ok {
			shared.AddFlag(f)
		} else {
			own.AddFlag(f)
		}
	})
	var b strings.Builder
	for _, cmd := range commands() {
		if cmd.name == name {
			fmt.Fprintf(&b, "partflow %s: %s\n", name, cmd.summary)
		}
	}
	fmt.Fprintf(&b, "\nUsage:\n  partflow %s [flags]\n", name)
	if own.HasFlags() {
		fmt.Fprintf(&b, "\nFlags:\n%s", own.FlagUsages())
	}
	if shared.HasFlags() {
		fmt.Fprintf(&b, "\nConfiguration flags (defaults < --env profile < --config file < PARTFLOW_* < flags):\n%s", shared.FlagUsages())
	}
	if ex := examples[name]; ex != "" {
		fmt.Fprintf(&b, "\nExample:\n  %s\n", ex)
	}
	return b.String()
}

// examples are the commands' example lines for their help.
var examples = map[string]string{
	"serve":        "partflow serve --config partflow.yaml --env production",
	"migrate":      "partflow migrate --database-url sqlite:///partflow.db",
	"config":       "partflow config --env production",
	"convert":      "partflow convert bracket.step bracket.glb",
	"gc":           "partflow gc --config partflow.yaml",
	"backup":       "partflow backup partflow-backup.tar",
	"restore":      "partflow restore partflow-backup.tar",
	"keys":         "partflow keys create alice --role editor",
	"import-flask": "partflow import-flask --db sqlite:///instance/parts.db --uploads uploads",
}

// help prints the usage, or with a command name that command's help.
func (c *cli) help(ctx context.Context, args []string) int {
	if len(args) > 0 {
		for _, cmd := range commands() {
			if cmd.name == args[0] && cmd.name != "help" {
				return cmd.run(c, ctx, []string{"-h"})
			}
		}
		c.errorf("unknown command %q; run `partflow help` for the list", args[0])
		return exitUsage
	}
	var b strings.Builder
	b.WriteString("Partflow: a parts-tracking server.\n\nUsage:\n  partflow [command] [flags]\n\nCommands:\n")
	for _, cmd := range commands() {
		fmt.Fprintf(&b, "  %-13s %s\n", cmd.name, cmd.summary)
	}
	b.WriteString("\nRun `partflow help <command>` (or `partflow <command> -h`) for a command's flags.\n" +
		"Configuration: defaults < profile (--env) < config file (--config) < environment (PARTFLOW_*) < flags.\n")
	if _, err := io.WriteString(c.stdout, b.String()); err != nil {
		return exitError
	}
	return exitOK
}

// errorf prints an error line to stderr; a multi-line error (several
// invalid settings) gets the prefix on every line.
func (c *cli) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	for _, line := range strings.Split(msg, "\n") {
		fmt.Fprintf(c.stderr, "partflow: %s\n", line)
	}
}

// flagSet returns a flag set for command name whose usage goes to stdout
// (for -h) and whose errors are returned, not printed.
func (c *cli) flagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("partflow "+name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses args into fs. It returns -1 to go on, or the exit code:
// 0 after printing help for -h, exitUsage for bad flags or arguments.
func (c *cli) parse(fs *pflag.FlagSet, args []string) int {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		_, _ = io.WriteString(c.stdout, commandHelp(fs))
		return exitOK
	case err != nil:
		fmt.Fprintf(c.stderr, "%s: %v\n", fs.Name(), err)
		return exitUsage
	case fs.NArg() > 0:
		fmt.Fprintf(c.stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage
	}
	return -1
}

// loadChecked parses a config-reading command's flags and loads the
// configuration. It returns -1 and the config to go on, or an exit code.
func (c *cli) loadChecked(fs *pflag.FlagSet, args []string) (*config.Config, int) {
	if code := c.parse(fs, args); code >= 0 {
		return nil, code
	}
	cfg, err := config.LoadFlags(fs, c.environ, c.stderr)
	if err != nil {
		c.errorf("%v", err)
		return nil, exitUsage
	}
	return cfg, -1
}
