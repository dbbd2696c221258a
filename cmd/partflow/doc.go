// Command partflow is the one Partflow binary: the reference REST server
// and its administration commands.
//
// Usage:
//
//	partflow [command] [flags]
//
// Commands: serve (the default), migrate, config, init, version, help.
//
// Configuration comes from five layers, each overriding the one before:
// built-in defaults, the profile's defaults (--env development, testing or
// production), a YAML or JSON config file (--config or PARTFLOW_CONFIG),
// the environment (PARTFLOW_<KEY>, "__" for nesting as in
// PARTFLOW_LOG__LEVEL, plus the original Flask deployment's SECRET_KEY,
// DATABASE_URL, CORS_ORIGINS, UPLOAD_FOLDER, MAX_FILE_SIZE,
// ALLOWED_EXTENSIONS, BASE_PATH, PORT and FLASK_ENV), and flags.
// `partflow config` prints every effective setting and where it came from.
package main
