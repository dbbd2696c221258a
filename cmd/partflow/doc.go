// Command partflow is the one Partflow binary: the reference REST server
// and its administration commands.
//
// Usage:
//
//	partflow [command] [flags]
//	partflow help [command]
//
// Commands (`partflow help` lists them with a line each, `partflow help
// CMD` or `partflow CMD -h` gives a command's flags and an example):
//
//	serve         run the HTTP server (the default command)
//	migrate       apply database migrations and exit
//	config        print the effective configuration and where each value came from
//	init          write a commented config file with a fresh random API key
//	seed          fill the database with realistic sample parts (not in production)
//	import-flask  copy an existing Flask deployment's parts and files into Partflow
//	convert       convert a CAD file offline through the configured plugins
//	plugins       list the converter plugins with their formats, version and health
//	gc            remove stored files that no part references, and crash leftovers
//	copy          copy a deployment between stores (database and files)
//	backup        write an archive of the deployment
//	restore       restore an archive into an empty deployment
//	webhooks      list the webhook endpoints and their recent delivery attempts
//	keys          manage per-person API keys: list, create, rotate, revoke
//	bench         load-test a running server through its API
//	bench-events  measure a running server's event streams and webhooks
//	version       print the version
//	help          show the help
//
// Configuration comes from five layers, each overriding the one before:
// built-in defaults, the profile's defaults (--env development, testing or
// production), a YAML or JSON config file (--config or PARTFLOW_CONFIG),
// the environment (PARTFLOW_<KEY>, "__" for nesting as in
// PARTFLOW_LOG__LEVEL, plus the original Flask deployment's SECRET_KEY,
// DATABASE_URL, CORS_ORIGINS, UPLOAD_FOLDER, MAX_FILE_SIZE,
// ALLOWED_EXTENSIONS, BASE_PATH, PORT and FLASK_ENV), and flags.
// `partflow config` prints every effective setting and where it came from.
//
// The command keeps what needs the process: flag parsing, signals, exit
// codes and the wiring of concrete drivers (app.go's blank imports). The
// configuration is internal/config; the work of the commands is in the
// library and in packages beside it (storage/transfer for copy, backup and
// restore, internal/flaskimport, internal/loadtest, internal/sample).
package main
