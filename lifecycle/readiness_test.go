package lifecycle

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/cloudrole/cloudrole/role"
)

// /readyz follows the instance: 503 before OnStart returns, 200 after, 503
// while busy, 200 again, 503 while stopping. /livez is 200 throughout.
func TestReadinessFollowsTheInstance(t *testing.T) {
	releaseStart, releaseStop := make(chan struct{}), make(chan struct{})
	busy := make(chan bool)
	var env role.Env
	r := &testRole{
		onStart: func(ctx context.Context, e role.Env) error {
			env = e
			<-releaseStart
			return nil
		},
		run: func(ctx context.Context, e role.Env) error {
			for {
				select {
				case b := <-busy:
					e.SetBusy(b)
					busy <- b // acknowledge
				case <-ctx.Done():
					return nil
				}
			}
		},
		onStop: func(context.Context, role.Env) error { <-releaseStop; return nil },
	}
	hs := startHost(t, r, testConfig(t), nil)

	hs.rec.waitN(t, "onstart", 1, state(StateOnStart, 1))
	hs.expect("/readyz", 503, "not ready: onstart")
	hs.expect("/livez", 200, "ok")
	close(releaseStart)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	hs.expect("/readyz", 200, "ok")

	busy <- true
	<-busy
	hs.expect("/readyz", 503, "not ready: busy")
	if st := hs.status(); !st.Busy || st.State != StateRunning {
		t.Fatalf("status while busy: state %s busy %v", st.State, st.Busy)
	}
	busy <- false
	<-busy
	hs.expect("/readyz", 200, "ok")

	hs.h.Stop(nil)
	hs.rec.waitN(t, "stopping", 1, state(StateStopping, 1))
	hs.expect("/readyz", 503, "not ready: stopping")
	hs.expect("/livez", 200, "ok")
	close(releaseStop)
	if err := hs.wait(); err != nil {
		t.Fatalf("Run = %v after a clean stop", err)
	}
	if env == nil || env.Identity().Role != "testrole" {
		t.Fatalf("identity = %+v", env.Identity())
	}
}

// The stop cancels Run's context with a cause that says why.
func TestStopCauseReachesRun(t *testing.T) {
	causes := make(chan error, 1)
	r := &testRole{run: func(ctx context.Context, _ role.Env) error {
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return nil
	}}
	hs := startHost(t, r, testConfig(t), nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	hs.sigs <- sigterm()
	cause := <-causes
	if cause == nil || !strings.Contains(cause.Error(), "host stopping") || !strings.Contains(cause.Error(), "terminated") {
		t.Fatalf("Run's cause = %v; want the stop and the signal", cause)
	}
	if err := hs.wait(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// A busy health address is named by its setting, with what to do.
func TestHealthAddrInUseNamed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig(t)
	cfg.Health.Addr = ln.Addr().String()
	h, err := New(&testRole{}, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = h.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "health.addr") || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("Run = %v; want an error naming health.addr and the address", err)
	}
}
