// Package sdnotify speaks systemd's service notification protocol
// (sd_notify(3)): datagrams such as "READY=1" sent to the unix socket named
// by NOTIFY_SOCKET. It is the few lines of the protocol the host needs:
// readiness, stopping, status text and watchdog keep-alives.
package sdnotify
