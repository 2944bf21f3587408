package role

import (
	"fmt"
	"strconv"
	"time"
)

// Bool reads a boolean setting ("true", "false", "1", "0", ...; see
// strconv.ParseBool). A missing setting wraps ErrSettingNotFound; a malformed
// one names the setting and its value's problem.
func Bool(env Env, name string) (bool, error) {
	return parse(env, name, strconv.ParseBool)
}

// Int reads an integer setting.
func Int(env Env, name string) (int, error) {
	return parse(env, name, strconv.Atoi)
}

// Duration reads a duration setting in time.ParseDuration form ("30s", "5m").
func Duration(env Env, name string) (time.Duration, error) {
	return parse(env, name, time.ParseDuration)
}

// StringOr returns the setting's value, or def if the setting is not
// configured. Other errors cannot happen for strings.
func StringOr(env Env, name, def string) string {
	v, err := env.Setting(name)
	if err != nil {
		return def
	}
	return v
}

func parse[T any](env Env, name string, conv func(string) (T, error)) (T, error) {
	var zero T
	s, err := env.Setting(name)
	if err != nil {
		return zero, err
	}
	v, err := conv(s)
	if err != nil {
		return zero, fmt.Errorf("setting %q: cannot parse %q as %T", name, s, zero)
	}
	return v, nil
}
