package roletest_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/role"
)

// waitTimeout bounds every wait; generous for a loaded 2-core machine
// under -race.
const waitTimeout = 20 * time.Second

// hooks is a role made of functions; a nil hook behaves as role.Default's.
type hooks struct {
	onStart, run, onStop func(ctx context.Context, env role.Env) error
}

func (h *hooks) OnStart(ctx context.Context, env role.Env) error {
	if h.onStart != nil {
		return h.onStart(ctx, env)
	}
	return nil
}

func (h *hooks) Run(ctx context.Context, env role.Env) error {
	if h.run != nil {
		return h.run(ctx, env)
	}
	<-ctx.Done()
	return nil
}

func (h *hooks) OnStop(ctx context.Context, env role.Env) error {
	if h.onStop != nil {
		return h.onStop(ctx, env)
	}
	return nil
}

// recv waits for one value from ch.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// testCtx ends at the test's end or after waitTimeout.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// failures is a testing.TB that records Errorf and Fatalf instead of
// failing the test, so a test can check that roletest fails a test. Fatalf
// ends the calling goroutine, as testing's does.
type failures struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (f *failures) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

func (f *failures) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

func (f *failures) messages() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.msgs...)
}
