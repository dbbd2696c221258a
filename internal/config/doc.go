// Package config is the partflow binary's configuration: its settings
// (Config), how they are loaded, checked, shown and written.
//
// Load (or LoadFlags, given a flag set with AddFlags' flags) merges five
// layers, each overriding the one before: built-in defaults, the
// profile's defaults (development, testing or production), a YAML or JSON
// config file (--config or PARTFLOW_CONFIG), the environment
// (PARTFLOW_<KEY>, "__" for nesting as in PARTFLOW_LOG__LEVEL, plus the
// original Flask deployment's SECRET_KEY, DATABASE_URL, CORS_ORIGINS,
// UPLOAD_FOLDER, MAX_FILE_SIZE, ALLOWED_EXTENSIONS, BASE_PATH, PORT and
// FLASK_ENV), and the flags the user set. It remembers where each value
// came from (Config.Source), then decodes (sizes with units, durations,
// comma lists) and normalises every setting, returning all invalid ones
// at once as *Error values that name the setting and its source.
//
// On top of that:
//   - Config.CheckStartup applies the profile's rules for starting (in
//     production: an explicit, strong API key and a persistent database);
//     Config.KeyWarnings lists weak keys outside production; EnsureAPIKey
//     generates and stores a key beside the SQLite database when none is
//     configured.
//   - Config.Entries and WriteEntries render the effective settings for
//     `partflow config`, with secrets masked (MaskSecret, RedactDSN,
//     RedactURL).
//   - Starter checks and renders the commented file `partflow init`
//     writes.
//   - Config.HTTPKeys, Config.HTTPPolicy and PluginConfig.ConvertOptions
//     turn settings into the library's types.
//
// The package reads files and the environment only as Load is told to
// (environ is passed in, never read from the process), so its tests and
// the command's run without touching the process's own settings.
package config
