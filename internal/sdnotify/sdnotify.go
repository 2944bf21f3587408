package sdnotify

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Notifier sends notifications to one socket. The zero value and a nil
// *Notifier send nothing, so callers need not check whether systemd asked.
type Notifier struct {
	addr *net.UnixAddr
}

// FromEnv returns a Notifier for the NOTIFY_SOCKET in environ (KEY=VALUE
// strings), or nil when it is unset — the process was not started by
// systemd with Type=notify. A name starting with '@' is an abstract socket.
func FromEnv(environ []string) *Notifier {
	sock := lookup(environ, "NOTIFY_SOCKET")
	if sock == "" {
		return nil
	}
	// Go maps a leading '@' to the abstract namespace itself.
	return &Notifier{addr: &net.UnixAddr{Name: sock, Net: "unixgram"}}
}

// Send sends one notification, e.g. "READY=1" or "STATUS=running". Each
// call is one datagram; it never blocks for long (a full socket buffer
// fails at once).
func (n *Notifier) Send(state string) error {
	if n == nil || n.addr == nil {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	defer conn.Close()
	conn.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	return nil
}

// WatchdogInterval returns how often to send "WATCHDOG=1": half of
// WATCHDOG_USEC, as sd_watchdog_enabled(3) advises, or 0 when the watchdog
// is off or meant for another process (WATCHDOG_PID names a different pid).
func WatchdogInterval(environ []string, pid int) time.Duration {
	usec, err := strconv.ParseInt(lookup(environ, "WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0
	}
	if p := lookup(environ, "WATCHDOG_PID"); p != "" && p != strconv.Itoa(pid) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond / 2
}

func lookup(environ []string, key string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
