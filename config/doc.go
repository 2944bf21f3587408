// Package config reads a role's configuration: one YAML file, every key
// optional, with environment-variable overrides on top. The full reference
// is docs/config.md.
//
// Load and Parse return either a valid *Config — defaults filled in,
// relative paths made absolute against the file's directory — or an error
// that lists every problem found, each naming the file, the line and the
// key ("role.yaml:12: host.stop_timeout: invalid duration ..."), so a bad
// config is rejected whole, before anything starts. Errors are *Error or
// Errors; both work with errors.As.
//
// Overrides come from the Options.Environ list, never from the process
// directly: CLOUDROLE_<SECTION>_<KEY> sets a scalar key (e.g.
// CLOUDROLE_HOST_STOP_TIMEOUT=1m) and CLOUDROLE_SETTING_<Name> sets a
// setting. The host's own identity variables (CLOUDROLE_ROLE,
// CLOUDROLE_INSTANCE_ID, CLOUDROLE_DEPLOYMENT, CLOUDROLE_INCARNATION,
// CLOUDROLE_DATA_DIR) and CLOUDROLE_CONFIG are not overrides.
//
// ChangedSettings and RestartNeeded compare two configs for a live reload.
package config
