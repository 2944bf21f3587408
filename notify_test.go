package cloudrole_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifications collects sd_notify datagrams from a unixgram socket.
type notifications struct {
	conn *net.UnixConn
	msgs chan string
}

func listenNotify(t *testing.T, name string) *notifications {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifications{conn: conn, msgs: make(chan string, 1024)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return n
}

// next returns the next datagram that contains want, failing after the
// deadline; skipped datagrams are returned too, in order.
func (n *notifications) next(t *testing.T, want string) (string, []string) {
	t.Helper()
	var skipped []string
	deadline := time.After(waitTimeout)
	for {
		select {
		case m, ok := <-n.msgs:
			if !ok {
				t.Fatalf("notify socket closed waiting for %q", want)
			}
			if strings.Contains(m, want) {
				return m, skipped
			}
			skipped = append(skipped, m)
		case <-deadline:
			t.Fatalf("no %q notification; got %q", want, skipped)
		}
	}
}

// Under systemd (NOTIFY_SOCKET set) the role says READY=1 only after
// OnStart returned, pings the watchdog at half of WATCHDOG_USEC, and says
// STOPPING=1 when SIGTERM starts the stop; then it exits 0. Both a path
// socket and an abstract one (@name) work.
func TestSystemdNotify(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run(fmt.Sprintf("abstract=%v", abstract), func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "notify.sock")
			if abstract {
				sock = fmt.Sprintf("@cloudrole-test-%d-%d", os.Getpid(), time.Now().UnixNano())
			}
			n := listenNotify(t, sock)
			marker := filepath.Join(t.TempDir(), "onstart-returned")
			p := startProcEnv(t, []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=200000"},
				"run", "--config", roleConfig(t, "settings:\n  Marker: "+marker+"\n"))

			ready, before := n.next(t, "READY=1")
			if _, err := os.Stat(marker); err != nil {
				t.Fatalf("READY=1 (%q) came before OnStart ran: %v", ready, err)
			}
			for _, m := range before {
				if strings.Contains(m, "WATCHDOG=1") {
					continue // pings may come before readiness: the host is live
				}
				if !strings.HasPrefix(m, "STATUS=") {
					t.Errorf("unexpected notification before READY: %q", m)
				}
			}
			// Watchdog every 100 ms: three pings arrive well within the wait.
			for i := range 3 {
				if _, skipped := n.next(t, "WATCHDOG=1"); len(skipped) > 2 {
					t.Fatalf("ping %d: other notifications in between: %q", i, skipped)
				}
			}
			sent := time.Now()
			p.cmd.Process.Signal(syscall.SIGTERM)
			n.next(t, "STOPPING=1")
			if code, _ := p.exit(sent); code != 0 {
				t.Fatalf("exit code %d after SIGTERM; want 0", code)
			}
		})
	}
}
