package cloudrole

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// stopMargin is added to the role's stop deadline for systemd's
// TimeoutStopSec (and Windows' stop wait): the host itself exits at the
// deadline with code 5 after logging the stuck hook and the stacks, so the
// service manager's SIGKILL must come later, or it would cut that report.
const stopMargin = 30 * time.Second

// restartDelay is systemd's RestartSec: kardianos's 120 s default leaves a
// crashed worker down for two minutes; the host's own crash-loop backoff
// and freeze already protect against tight loops inside the process.
const restartDelay = 5 * time.Second

// systemdUnit renders the unit file for s. Choices:
//   - Type=notify with NotifyAccess=main: systemd counts the role started
//     when the host sends READY=1 (OnStart returned), not when the
//     process forked, so dependent units wait for a ready role.
//   - TimeoutStopSec = stop deadline + stopMargin (systemd's 90 s default
//     would SIGKILL a role still inside its 5-minute deadline).
//   - KillMode=mixed: SIGTERM goes to the host only, which stops the role
//     and its startup tasks' process groups in order; at the timeout
//     SIGKILL reaches everything left in the cgroup.
//   - Restart=on-failure with RestartSec=5s; exit codes 2 (usage) and 3
//     (invalid config) are not restarted: they cannot fix themselves.
func (s *serviceSpec) systemdUnit() string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("[Unit]")
	line("Description=%s", escapeSpecifiers(oneLine(s.description())))
	line("After=network-online.target")
	line("Wants=network-online.target")
	line("StartLimitIntervalSec=300")
	line("StartLimitBurst=10")
	line("")
	line("[Service]")
	line("Type=notify")
	line("NotifyAccess=main")
	args := []string{systemdQuote(s.Exe)}
	for _, a := range s.Args {
		args = append(args, systemdQuote(a))
	}
	line("ExecStart=%s", strings.Join(args, " "))
	if s.WorkingDir != "" {
		line("WorkingDirectory=%s", systemdQuote(s.WorkingDir))
	}
	if s.User != "" {
		line("User=%s", escapeSpecifiers(s.User))
	}
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		line("Environment=%s", systemdQuote(k+"="+s.Env[k]))
	}
	line("Restart=on-failure")
	line("RestartSec=%ds", int(restartDelay.Seconds()))
	line("RestartPreventExitStatus=2 3")
	line("TimeoutStartSec=infinity")
	line("TimeoutStopSec=%ds", int((s.StopTimeout + stopMargin).Seconds()))
	line("KillMode=mixed")
	line("KillSignal=SIGTERM")
	line("")
	line("[Install]")
	line("WantedBy=multi-user.target")
	return b.String()
}

// systemdQuote quotes one word of a unit file's command line or assignment:
// double quotes with backslash escapes, and % and $ doubled so systemd
// takes them literally (no specifier or variable expansion).
func systemdQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '%':
			b.WriteString("%%")
		case '$':
			b.WriteString("$$")
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func escapeSpecifiers(s string) string { return strings.ReplaceAll(s, "%", "%%") }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
