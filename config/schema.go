package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// field is one scalar key of a section. set parses a value given as text
// (a YAML scalar or an environment variable); get renders it back, to
// compare configs.
type field struct {
	key string
	set func(c *Config, v string) error
	get func(c *Config) string
	// duration marks keys whose YAML value must be a string like "30s":
	// a bare number is refused because its unit would be a guess.
	duration bool
	// want names the expected type in errors ("a duration like \"30s\"").
	want string
}

// section is a top-level mapping of scalar fields. Its maps and lists
// (service.env, startup, settings) are decoded separately.
type section struct {
	name   string
	fields []field
	// restart marks sections whose changes take effect only on a process
	// restart.
	restart bool
}

func str(p func(*Config) *string) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error { *p(c) = v; return nil },
		func(c *Config) string { return *p(c) }
}

func dur(p func(*Config) *time.Duration) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			d, err := parseDuration(v)
			if err == nil {
				*p(c) = d
			}
			return err
		},
		func(c *Config) string { return p(c).String() }
}

// parseDuration reads a non-negative Go duration ("30s", "5m", "1h30m").
func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %s (want e.g. \"30s\" or \"5m\")", quote(v))
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %s", quote(v))
	}
	return d, nil
}

func integer(p func(*Config) *int) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("invalid integer %s", quote(v))
			}
			*p(c) = n
			return nil
		},
		func(c *Config) string { return strconv.Itoa(*p(c)) }
}

func strField(key string, p func(*Config) *string) field {
	set, get := str(p)
	return field{key: key, set: set, get: get, want: "a string"}
}

func durField(key string, p func(*Config) *time.Duration) field {
	set, get := dur(p)
	return field{key: key, set: set, get: get, duration: true, want: `a duration like "30s"`}
}

func sizeField(key string, p func(*Config) *int64) field {
	return field{key: key, want: `a size like "64MiB"`,
		set: func(c *Config, v string) error {
			n, err := parseSize(v)
			if err == nil {
				*p(c) = n
			}
			return err
		},
		get: func(c *Config) string { return strconv.FormatInt(*p(c), 10) }}
}

// parseSize reads a byte count: a plain integer, or a number with one of
// the units B, KiB, MiB, GiB (and KB, MB, GB, the same powers of 1024).
func parseSize(v string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"B", 1}}
	num, mult := v, int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("invalid size %s (want bytes, or a number with KiB, MiB or GiB, e.g. \"64MiB\")", quote(v))
	}
	return n * mult, nil
}

func intField(key string, p func(*Config) *int) field {
	set, get := integer(p)
	return field{key: key, set: set, get: get, want: "an integer"}
}

// schema lists every section with its scalar keys, in file order.
var schema = []section{
	{name: "role", restart: true, fields: []field{
		strField("name", func(c *Config) *string { return &c.Role.Name }),
		strField("instance_id", func(c *Config) *string { return &c.Role.InstanceID }),
		strField("deployment", func(c *Config) *string { return &c.Role.Deployment }),
		strField("data_dir", func(c *Config) *string { return &c.Role.DataDir }),
	}},
	{name: "host", fields: []field{
		durField("stop_timeout", func(c *Config) *time.Duration { return &c.Host.StopTimeout }),
		durField("healthy_after", func(c *Config) *time.Duration { return &c.Host.HealthyAfter }),
		durField("backoff_base", func(c *Config) *time.Duration { return &c.Host.BackoffBase }),
		durField("backoff_max", func(c *Config) *time.Duration { return &c.Host.BackoffMax }),
		intField("backoff_jitter", func(c *Config) *int { return &c.Host.BackoffJitter }),
		intField("max_failures", func(c *Config) *int { return &c.Host.MaxFailures }),
		strField("failure_action", func(c *Config) *string { return &c.Host.FailureAction }),
		durField("reload_interval", func(c *Config) *time.Duration { return &c.Host.ReloadInterval }),
		durField("handler_timeout", func(c *Config) *time.Duration { return &c.Host.HandlerTimeout }),
	}},
	{name: "health", restart: true, fields: []field{
		strField("addr", func(c *Config) *string { return &c.Health.Addr }),
	}},
	{name: "log", restart: true, fields: []field{
		strField("level", func(c *Config) *string { return &c.Log.Level }),
		strField("format", func(c *Config) *string { return &c.Log.Format }),
	}},
	{name: "nats", restart: true, fields: []field{
		strField("url", func(c *Config) *string { return &c.NATS.URL }),
		strField("creds_file", func(c *Config) *string { return &c.NATS.CredsFile }),
		strField("user", func(c *Config) *string { return &c.NATS.User }),
		strField("password", func(c *Config) *string { return &c.NATS.Password }),
		strField("token", func(c *Config) *string { return &c.NATS.Token }),
		strField("tls_ca", func(c *Config) *string { return &c.NATS.TLSCA }),
		strField("tls_cert", func(c *Config) *string { return &c.NATS.TLSCert }),
		strField("tls_key", func(c *Config) *string { return &c.NATS.TLSKey }),
		strField("store_dir", func(c *Config) *string { return &c.NATS.StoreDir }),
		strField("sync", func(c *Config) *string { return &c.NATS.Sync }),
		strField("listen", func(c *Config) *string { return &c.NATS.Listen }),
	}},
	{name: "console", restart: true, fields: []field{
		strField("addr", func(c *Config) *string { return &c.Console.Addr }),
		strField("token", func(c *Config) *string { return &c.Console.Token }),
		strField("token_file", func(c *Config) *string { return &c.Console.TokenFile }),
	}},
	{name: "jobs", fields: []field{
		strField("dir", func(c *Config) *string { return &c.Jobs.Dir }),
		intField("history", func(c *Config) *int { return &c.Jobs.History }),
		sizeField("history_size", func(c *Config) *int64 { return &c.Jobs.HistorySize }),
		intField("max_queued", func(c *Config) *int { return &c.Jobs.MaxQueued }),
		durField("heartbeat", func(c *Config) *time.Duration { return &c.Jobs.Heartbeat }),
		durField("fail_after", func(c *Config) *time.Duration { return &c.Jobs.FailAfter }),
		durField("scan_interval", func(c *Config) *time.Duration { return &c.Jobs.ScanInterval }),
		strField("time_zone", func(c *Config) *string { return &c.Jobs.TimeZone }),
		intField("replicas", func(c *Config) *int { return &c.Jobs.Replicas }),
	}},
	{name: "service", restart: true, fields: []field{
		strField("name", func(c *Config) *string { return &c.Service.Name }),
		strField("display_name", func(c *Config) *string { return &c.Service.DisplayName }),
		strField("description", func(c *Config) *string { return &c.Service.Description }),
		strField("user", func(c *Config) *string { return &c.Service.User }),
		strField("working_dir", func(c *Config) *string { return &c.Service.WorkingDir }),
	}},
}

// Top-level keys that are not scalar sections.
const (
	keyStartup  = "startup"
	keySettings = "settings"
	keyEnv      = "env"      // service.env
	keyPrograms = "programs" // jobs.programs
)

func topKeys() []string {
	keys := make([]string, 0, len(schema)+2)
	for _, s := range schema {
		keys = append(keys, s.name)
	}
	return append(keys, keyStartup, keySettings)
}

func (s *section) field(key string) *field {
	for i := range s.fields {
		if s.fields[i].key == key {
			return &s.fields[i]
		}
	}
	return nil
}

func (s *section) keys() []string {
	keys := make([]string, 0, len(s.fields)+1)
	for _, f := range s.fields {
		keys = append(keys, f.key)
	}
	if s.name == "service" {
		keys = append(keys, keyEnv)
	}
	if s.name == "jobs" {
		keys = append(keys, keyPrograms)
	}
	return keys
}

func findSection(name string) *section {
	for i := range schema {
		if schema[i].name == name {
			return &schema[i]
		}
	}
	return nil
}

// defaults returns a Config holding every default that does not depend on
// other values; derived defaults are filled by finish.
func defaults() *Config {
	return &Config{
		Role: Role{Deployment: "default"},
		Host: Host{
			StopTimeout:    5 * time.Minute,
			HealthyAfter:   2 * time.Minute,
			BackoffBase:    time.Second,
			BackoffMax:     time.Minute,
			BackoffJitter:  20,
			MaxFailures:    5,
			FailureAction:  "freeze",
			ReloadInterval: 2 * time.Second,
			HandlerTimeout: 10 * time.Second,
		},
		Health: Health{Addr: "127.0.0.1:8080"},
		Log:    Log{Level: "info", Format: "text"},
		NATS:   NATS{Sync: "always", Listen: "127.0.0.1:-1"},
		// As package jobs' defaults (a test in lifecycle checks they agree).
		Jobs: Jobs{History: 50, HistorySize: 64 << 20, MaxQueued: 1000, Heartbeat: 5 * time.Second,
			FailAfter: time.Minute, ScanInterval: 2 * time.Second, TimeZone: "UTC", Replicas: 1},
		Settings: map[string]string{},
	}
}
