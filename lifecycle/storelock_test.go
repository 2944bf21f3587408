package lifecycle

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/queue"
)

// Two hosts on one embedded store: the second's Run fails at once with
// queue.ErrStoreLocked (exit code 1), having started nothing — its health
// listener is closed and OnStart never ran. Once the first host stopped,
// the store is free for a third.
func TestSecondHostOnOneStoreRefused(t *testing.T) {
	cfg := testConfig(t)
	sameStore := func() *config.Config {
		c := testConfig(t)
		c.Role.DataDir, c.NATS.StoreDir = cfg.Role.DataDir, cfg.NATS.StoreDir
		return c
	}
	first := startHost(t, &testRole{}, cfg, nil)
	first.rec.waitN(t, "first host running", 1, state(StateRunning, 1))

	r := &testRole{}
	second := startHost(t, r, sameStore(), nil)
	err := second.wait()
	if !errors.Is(err, queue.ErrStoreLocked) || !strings.Contains(err.Error(), cfg.NATS.StoreDir) {
		t.Fatalf("second host's Run: %v, want queue.ErrStoreLocked naming %s", err, cfg.NATS.StoreDir)
	}
	if code := ExitCode(err); code != ExitError {
		t.Fatalf("exit code %d, want %d", code, ExitError)
	}
	if n := r.count("OnStart"); n != 0 {
		t.Fatalf("the refused host ran OnStart %d times", n)
	}
	if c, err := net.Dial("tcp", strings.TrimPrefix(second.base, "http://")); err == nil {
		c.Close()
		t.Fatal("the refused host left its health listener open")
	}

	first.h.Stop(nil)
	if err := first.wait(); err != nil {
		t.Fatal(err)
	}
	third := startHost(t, &testRole{}, sameStore(), nil)
	third.rec.waitN(t, "third host running", 1, state(StateRunning, 1))
}
