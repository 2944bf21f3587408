package config

import (
	"reflect"
	"testing"
)

func TestChangedSettings(t *testing.T) {
	a := mustParse(t, "settings:\n  Same: 1\n  Changed: old\n  Removed: x\n  Emptied: v\n")
	b := mustParse(t, "settings:\n  Same: 1\n  Changed: new\n  Added: y\n  Emptied:\n")
	got := ChangedSettings(a, b)
	want := []string{"Added", "Changed", "Emptied", "Removed"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ChangedSettings = %v; want %v", got, want)
	}
	if got := ChangedSettings(a, a); len(got) != 0 {
		t.Fatalf("ChangedSettings(a, a) = %v; want none", got)
	}
	// Only settings count: host and role changes are not settings.
	c := mustParse(t, "host: {stop_timeout: 1m}\nrole: {name: other}\nsettings:\n  Same: 1\n  Changed: old\n  Removed: x\n  Emptied: v\n")
	if got := ChangedSettings(a, c); len(got) != 0 {
		t.Fatalf("ChangedSettings across non-setting changes = %v; want none", got)
	}
}

// RestartNeeded lists the keys that a live reload cannot apply: every key of
// role, health, log, nats and service (with service.env). Host keys,
// startup tasks and settings apply without a process restart.
func TestRestartNeeded(t *testing.T) {
	base := mustParse(t, fullYAML)
	if got := RestartNeeded(base, mustParse(t, fullYAML)); len(got) != 0 {
		t.Fatalf("same file: %v", got)
	}
	for _, s := range schema {
		for _, f := range s.fields {
			key := join(s.name, f.key)
			t.Run(key, func(t *testing.T) {
				next := mustParse(t, fullYAML)
				// A value that is valid for every key's type and differs.
				if err := f.set(next, changedValue(f)); err != nil {
					t.Fatal(err)
				}
				got := RestartNeeded(base, next)
				if s.restart != (len(got) == 1 && got[0] == key) || !s.restart && len(got) != 0 {
					t.Fatalf("changing %s: RestartNeeded = %v; restart section = %v", key, got, s.restart)
				}
			})
		}
	}
	next := mustParse(t, fullYAML)
	next.Service.Env["MODE"] = "dev"
	if got := RestartNeeded(base, next); !reflect.DeepEqual(got, []string{"service.env"}) {
		t.Fatalf("service.env change: %v", got)
	}
	next = mustParse(t, fullYAML+"  Extra: 1\n")
	next.Startup = next.Startup[:1]
	if got := RestartNeeded(base, next); len(got) != 0 {
		t.Fatalf("settings and startup changes need no restart, got %v", got)
	}
	// Sorted, several at once.
	next = mustParse(t, fullYAML)
	next.Log.Level, next.Health.Addr = "info", "127.0.0.1:1"
	if got := RestartNeeded(base, next); !reflect.DeepEqual(got, []string{"health.addr", "log.level"}) {
		t.Fatalf("got %v", got)
	}
}

func changedValue(f field) string {
	switch f.want {
	case "an integer":
		return "42"
	case `a duration like "30s"`:
		return "42s"
	case `a size like "64MiB"`:
		return "42MiB"
	}
	return "changed"
}

func TestFreeze(t *testing.T) {
	for in, want := range map[string]bool{"": false, "settings: {Freeze: true}": true,
		"settings: {Freeze: false}": false, "settings: {Freeze: TRUE}": true, "settings: {Freeze: 1}": true,
		"settings: {freeze: true}": false} {
		if got := mustParse(t, in).Freeze(); got != want {
			t.Errorf("%q: Freeze() = %v; want %v", in, got, want)
		}
	}
}
