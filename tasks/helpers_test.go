package tasks_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/tasks"
	"github.com/jonboulle/clockwork"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait in these tests; generous for a loaded
// 2-core machine under -race.
const waitTimeout = 20 * time.Second

// t0 is where fake clocks start: three seconds past a minute, so CRON tests
// see fire times that are not the start time.
var t0 = time.Date(2026, 1, 1, 0, 0, 3, 0, time.UTC)

// testCtx returns a context that ends at the test's end or after
// waitTimeout, for BlockUntilContext and the like.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// events records a group's events and lets a test wait for them.
type events struct {
	mu      sync.Mutex
	list    []tasks.Event
	changed chan struct{} // closed and replaced on every new event
}

func newEvents() *events { return &events{changed: make(chan struct{})} }

// hook is the Options.OnEvent function.
func (e *events) hook(ev tasks.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
	close(e.changed)
	e.changed = make(chan struct{})
}

func (e *events) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, ev := range e.list {
		fmt.Fprintf(&b, "\n  %T %v", ev, ev)
	}
	return b.String()
}

// waitEvents waits until e holds at least n events of type T about task,
// and returns the first n.
func waitEvents[T tasks.Event](t *testing.T, e *events, task string, n int) []T {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		e.mu.Lock()
		var got []T
		for _, ev := range e.list {
			if x, ok := ev.(T); ok && ev.TaskName() == task {
				got = append(got, x)
			}
		}
		changed := e.changed
		e.mu.Unlock()
		if len(got) >= n {
			return got[:n]
		}
		select {
		case <-changed:
		case <-deadline.C:
			var zero T
			t.Fatalf("timed out waiting for %d %T events of task %q; events so far:%v", n, zero, task, e)
		}
	}
}

// count returns how many events of type T about task e holds.
func count[T tasks.Event](e *events, task string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.list {
		if _, ok := ev.(T); ok && ev.TaskName() == task {
			n++
		}
	}
	return n
}

// recv receives from ch or fails the test after waitTimeout.
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

// send sends v on ch or fails the test after waitTimeout.
func send[T any](t *testing.T, ch chan<- T, v T, what string) {
	t.Helper()
	select {
	case ch <- v:
	case <-time.After(waitTimeout):
		t.Fatalf("timed out sending %s", what)
	}
}

// block waits until clk has at least n waiters (timers the tasks wait on).
func block(t *testing.T, clk *clockwork.FakeClock, n int) {
	t.Helper()
	if err := clk.BlockUntilContext(testCtx(t), n); err != nil {
		t.Fatalf("waiting for %d clock waiters: %v", n, err)
	}
}

// taskStatus returns the status of the named task.
func taskStatus(t *testing.T, g *tasks.Group, name string) tasks.TaskStatus {
	t.Helper()
	for _, ts := range g.Status().Tasks {
		if ts.Name == name {
			return ts
		}
	}
	t.Fatalf("no task %q in status %+v", name, g.Status())
	return tasks.TaskStatus{}
}

// wait calls g.Wait, failing the test if it does not return in time.
func wait(t *testing.T, g *tasks.Group) error {
	t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- g.Wait() }()
	return recv(t, ch, "Wait")
}

// mustAdd fails the test if adding a task failed.
func mustAdd(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
