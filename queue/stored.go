package queue

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// The record of a queue's configuration: JSON in the Metadata of its
// level-0 stream, under configKey. Every process reads it from there, since
// several settings (MaxDeliver, the retry delays, TrackStatus, ...) live in
// no stream or consumer field. configVersion grows with every change of the
// record's fields; a reader refuses a version it does not know rather than
// use a queue with settings it cannot see.
//
// Version 2 added the settings of scheduling and control (MaxSnoozes ...).
// A queue whose version-2 settings are all at their defaults is recorded
// as version 1, so a cloudrole that reads only version 1 can still use it;
// a version-1 record reads as those defaults.
const (
	configKey     = "cloudrole.queue.config"
	configVersion = 2
)

// storedConfig is the record's JSON form: every setting after defaults,
// in a fixed order, durations as Go duration strings so that `nats stream
// info` shows them readably.
type storedConfig struct {
	Version          int    `json:"v"`
	Levels           int    `json:"levels"`
	DefaultPriority  int    `json:"default_priority"`
	MaxDeliver       int    `json:"max_deliver"`
	AckWait          string `json:"ack_wait"`
	RetryBase        string `json:"retry_base"`
	RetryMax         string `json:"retry_max"`
	MaxBacklog       int64  `json:"max_backlog"`
	MaxPayload       int    `json:"max_payload"`
	MaxResult        int    `json:"max_result"`
	Replicas         int    `json:"replicas"`
	DuplicateWindow  string `json:"duplicate_window"`
	TrackStatus      bool   `json:"track_status"`
	StatusTTL        string `json:"status_ttl"`
	DeadLetterMaxAge string `json:"dead_letter_max_age"`

	// Version 2: absent from a version-1 record, all present in a
	// version-2 one.
	MaxSnoozes       *int     `json:"max_snoozes,omitempty"`
	Fairness         *bool    `json:"fairness,omitempty"`
	FleetConcurrency *int     `json:"fleet_concurrency,omitempty"`
	FleetRateLimit   *float64 `json:"fleet_rate_limit,omitempty"`
	FleetRateBurst   *int     `json:"fleet_rate_burst,omitempty"`
}

// v2Fields are the record's version-2 fields of sc, for the completeness
// checks of decodeConfig.
func (sc *storedConfig) v2Fields() []any {
	return []any{sc.MaxSnoozes, sc.Fairness, sc.FleetConcurrency, sc.FleetRateLimit, sc.FleetRateBurst}
}

// v1Only reports whether cfg (resolved) can be recorded as version 1: its
// version-2 settings are all at their defaults.
func v1Only(cfg Config) bool {
	def, _ := resolve(Config{})
	return cfg.MaxSnoozes == def.MaxSnoozes && cfg.Fairness == def.Fairness && cfg.FleetConcurrency == def.FleetConcurrency &&
		cfg.FleetRateLimit == def.FleetRateLimit && cfg.FleetRateBurst == def.FleetRateBurst
}

// resolve applies cfg's defaults and validates it. The result is the form
// compared and stored: its DefaultPriority is explicit, so declaring the
// Config a Queue reports gives the same queue.
func resolve(cfg Config) (Config, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return cfg, err
	}
	cfg.UseDefaultPriority = true
	return cfg, nil
}

// encodeConfig returns the record of cfg, a resolved Config.
func encodeConfig(cfg Config) string {
	sc := storedConfig{
		Version:          1,
		Levels:           cfg.Levels,
		DefaultPriority:  int(cfg.DefaultPriority),
		MaxDeliver:       cfg.MaxDeliver,
		AckWait:          cfg.AckWait.String(),
		RetryBase:        cfg.RetryBase.String(),
		RetryMax:         cfg.RetryMax.String(),
		MaxBacklog:       cfg.MaxBacklog,
		MaxPayload:       cfg.MaxPayload,
		MaxResult:        cfg.MaxResult,
		Replicas:         cfg.Replicas,
		DuplicateWindow:  cfg.DuplicateWindow.String(),
		TrackStatus:      cfg.TrackStatus,
		StatusTTL:        cfg.StatusTTL.String(),
		DeadLetterMaxAge: cfg.DeadLetterMaxAge.String(),
	}
	if !v1Only(cfg) {
		sc.Version = 2
		sc.MaxSnoozes = &cfg.MaxSnoozes
		sc.Fairness = &cfg.Fairness
		sc.FleetConcurrency = &cfg.FleetConcurrency
		sc.FleetRateLimit = &cfg.FleetRateLimit
		sc.FleetRateBurst = &cfg.FleetRateBurst
	}
	b, err := json.Marshal(sc)
	if err != nil {
		panic(err) // strings, numbers and a bool always marshal
	}
	return string(b)
}

// errNewerRecord marks a record written by a newer cloudrole.
type errNewerRecord struct{ version int }

func (e *errNewerRecord) Error() string {
	return fmt.Sprintf("its configuration was recorded by a newer cloudrole (record version %d; this one reads %d): upgrade this program", e.version, configVersion)
}

// decodeConfig parses a record into a resolved Config. A record must be
// complete: one that leaves a setting to a default, names an unknown
// field or holds an invalid value is refused, since the defaults of the
// reading program might not be those of the writer.
func decodeConfig(s string) (Config, error) {
	var v struct {
		Version int `json:"v"`
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return Config{}, fmt.Errorf("bad configuration record %s: %w", configKey, err)
	}
	if v.Version > configVersion {
		return Config{}, &errNewerRecord{v.Version}
	}
	if v.Version < 1 {
		return Config{}, fmt.Errorf("bad configuration record %s: version %d, want 1..%d", configKey, v.Version, configVersion)
	}
	var sc storedConfig
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return Config{}, fmt.Errorf("bad configuration record %s: %w", configKey, err)
	}
	var errs []string
	for _, f := range sc.v2Fields() {
		if absent := reflect.ValueOf(f).IsNil(); absent != (v.Version == 1) {
			return Config{}, fmt.Errorf("bad configuration record %s: version %d with the version-2 settings %s", configKey, v.Version,
				map[bool]string{true: "missing", false: "present"}[absent])
		}
	}
	def, _ := resolve(Config{})
	intOr := func(p *int, d int) int {
		if p == nil {
			return d
		}
		return *p
	}
	dur := func(s, name string) time.Duration {
		d, err := time.ParseDuration(s)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s %q is not a duration", name, s))
		}
		return d
	}
	cfg := Config{
		Levels:             sc.Levels,
		DefaultPriority:    Priority(sc.DefaultPriority),
		UseDefaultPriority: true,
		MaxDeliver:         sc.MaxDeliver,
		AckWait:            dur(sc.AckWait, "ack_wait"),
		RetryBase:          dur(sc.RetryBase, "retry_base"),
		RetryMax:           dur(sc.RetryMax, "retry_max"),
		MaxBacklog:         sc.MaxBacklog,
		MaxPayload:         sc.MaxPayload,
		MaxResult:          sc.MaxResult,
		Replicas:           sc.Replicas,
		DuplicateWindow:    dur(sc.DuplicateWindow, "duplicate_window"),
		TrackStatus:        sc.TrackStatus,
		StatusTTL:          dur(sc.StatusTTL, "status_ttl"),
		DeadLetterMaxAge:   dur(sc.DeadLetterMaxAge, "dead_letter_max_age"),
		MaxSnoozes:         intOr(sc.MaxSnoozes, def.MaxSnoozes),
		Fairness:           sc.Fairness != nil && *sc.Fairness,
		FleetConcurrency:   intOr(sc.FleetConcurrency, def.FleetConcurrency),
		FleetRateBurst:     intOr(sc.FleetRateBurst, def.FleetRateBurst),
	}
	if sc.FleetRateLimit != nil {
		cfg.FleetRateLimit = *sc.FleetRateLimit
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("bad configuration record %s: %s", configKey, strings.Join(errs, "; "))
	}
	r, err := resolve(cfg)
	if err != nil {
		return Config{}, fmt.Errorf("bad configuration record %s: %w", configKey, err)
	}
	if r != cfg {
		return Config{}, fmt.Errorf("bad configuration record %s: incomplete (%s)", configKey, diffConfigs(cfg, r, nil))
	}
	return cfg, nil
}

// settings are the settings of a Config that a declaration is compared
// on, in the order an error lists them, each shown as an error shows it.
var settings = []struct {
	name string
	show func(Config) string
}{
	{"Levels", func(c Config) string { return strconv.Itoa(c.Levels) }},
	{"DefaultPriority", func(c Config) string { return strconv.Itoa(int(c.DefaultPriority)) }},
	{"MaxDeliver", func(c Config) string { return strconv.Itoa(c.MaxDeliver) }},
	{"AckWait", func(c Config) string { return c.AckWait.String() }},
	{"RetryBase", func(c Config) string { return c.RetryBase.String() }},
	{"RetryMax", func(c Config) string { return c.RetryMax.String() }},
	{"MaxBacklog", func(c Config) string { return orNone(c.MaxBacklog, "unlimited") }},
	{"MaxPayload", func(c Config) string { return strconv.Itoa(c.MaxPayload) }},
	{"MaxResult", func(c Config) string { return strconv.Itoa(c.MaxResult) }},
	{"Replicas", func(c Config) string { return strconv.Itoa(c.Replicas) }},
	{"DuplicateWindow", func(c Config) string { return c.DuplicateWindow.String() }},
	{"TrackStatus", func(c Config) string { return strconv.FormatBool(c.TrackStatus) }},
	{"StatusTTL", func(c Config) string { return c.StatusTTL.String() }},
	{"DeadLetterMaxAge", func(c Config) string {
		if c.DeadLetterMaxAge == 0 {
			return "0 (kept until re-queued)"
		}
		return c.DeadLetterMaxAge.String()
	}},
	{"MaxSnoozes", func(c Config) string { return strconv.Itoa(c.MaxSnoozes) }},
	{"Fairness", func(c Config) string { return strconv.FormatBool(c.Fairness) }},
	{"FleetConcurrency", func(c Config) string { return orNone(int64(c.FleetConcurrency), "no cap") }},
	{"FleetRateLimit", func(c Config) string {
		if c.FleetRateLimit == 0 {
			return "0 (no limit)"
		}
		return strconv.FormatFloat(c.FleetRateLimit, 'g', -1, 64) + "/s"
	}},
	{"FleetRateBurst", func(c Config) string { return strconv.Itoa(c.FleetRateBurst) }},
}

func orNone(n int64, none string) string {
	if n == 0 {
		return "0 (" + none + ")"
	}
	return strconv.FormatInt(n, 10)
}

// SettingDiff is one setting whose declared value differs from the stored
// one, both shown as text ("3s", "0 (unlimited)").
type SettingDiff struct {
	Setting  string // the Config field: "AckWait"
	Stored   string
	Declared string
}

// diffs returns the settings of declared that differ from stored; with
// known non-nil, only those named in it (the ones a queue without a
// record shows in its streams).
func diffs(stored, declared Config, known map[string]bool) []SettingDiff {
	var out []SettingDiff
	for _, s := range settings {
		if known != nil && !known[s.name] {
			continue
		}
		if a, b := s.show(stored), s.show(declared); a != b {
			out = append(out, SettingDiff{Setting: s.name, Stored: a, Declared: b})
		}
	}
	return out
}

func diffConfigs(stored, declared Config, known map[string]bool) string {
	return joinDiffs(diffs(stored, declared, known))
}

func joinDiffs(ds []SettingDiff) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%s: stored %s, declared %s", d.Setting, d.Stored, d.Declared)
	}
	return strings.Join(parts, "; ")
}

// ConfigMismatchError is the error of Client.Queue when the queue exists
// with other settings. Nothing was changed. It wraps ErrConfigMismatch.
type ConfigMismatchError struct {
	Queue string
	// Diffs lists every differing setting, in Config's order.
	Diffs []SettingDiff
	// Derived is true for a queue created by a cloudrole that recorded no
	// configuration: Stored values were read from its streams, consumer
	// and status bucket, and only settings they hold were compared.
	Derived bool
}

// Error lists the differing settings and how to proceed.
func (e *ConfigMismatchError) Error() string {
	from := "the stored one"
	if e.Derived {
		from = "the one its streams show (they were created by an earlier cloudrole, which recorded no configuration)"
	}
	return fmt.Sprintf("queue %q: declared config differs from %s: %s; nothing was changed: use OpenQueue to use the queue as stored, or UpdateQueue to change it",
		e.Queue, from, joinDiffs(e.Diffs))
}

// Unwrap returns ErrConfigMismatch.
func (e *ConfigMismatchError) Unwrap() error { return ErrConfigMismatch }
