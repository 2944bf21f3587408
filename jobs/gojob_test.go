package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// A Go triggered job started by a client runs once with its arguments; its
// record says Completed, and its output lines are stored with their
// streams.
func TestTriggeredGoJobRunsWithArgsAndOutput(t *testing.T) {
	p := testServer(t)
	startRunner(t, fast(p, "a"), Job{Name: "greet", Func: func(ctx context.Context, inv *Invocation) error {
		inv.Printf("hello %s", strings.Join(inv.Args, " "))
		fmt.Fprintln(inv.Stderr, "a warning")
		fmt.Fprint(inv.Stdout, "no newline at the end")
		return nil
	}})
	c := testClient(t, p)
	id := start(t, c, "greet", "big", "world")
	r := wait(t, c, id)
	if r.State != Completed || r.Instance != "a" || r.Trigger.Type != TriggerAPI || !slices.Equal(r.Trigger.Args, []string{"big", "world"}) {
		t.Fatalf("run = %+v", r)
	}
	if r.StartedAt.IsZero() || r.EndedAt.Before(r.StartedAt) || r.Lines != 3 {
		t.Fatalf("times or counts wrong: %+v", r)
	}
	lines, err := c.Receive(ctxFor(t, waitLong), id, ReceiveOptions{Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(lines); !slices.Equal(got, []string{"hello big world", "a warning", "no newline at the end"}) {
		t.Fatalf("lines = %q", got)
	}
	if lines[1].Stream != Stderr || lines[1].Level() != "ERROR" || lines[0].Level() != "INFO" || lines[0].Time.IsZero() {
		t.Fatalf("streams/times = %+v", lines)
	}
}

// A Go job's error and panic fail the run, with the error recorded and a
// panic's stack in its stderr.
func TestGoJobErrorAndPanicFail(t *testing.T) {
	p := testServer(t)
	startRunner(t, fast(p, "a"),
		Job{Name: "err", Func: func(context.Context, *Invocation) error { return errors.New("disk full") }},
		Job{Name: "boom", Func: func(context.Context, *Invocation) error { panic("kaboom") }},
	)
	c := testClient(t, p)
	if r := wait(t, c, start(t, c, "err")); r.State != Failed || r.Error != "disk full" {
		t.Fatalf("err run = %+v", r)
	}
	id := start(t, c, "boom")
	if r := wait(t, c, id); r.State != Failed || r.Error != "panic: kaboom" {
		t.Fatalf("panic run = %+v", r)
	}
	lines, _ := c.Receive(ctxFor(t, waitLong), id, ReceiveOptions{Keep: true})
	if len(lines) < 2 || lines[0].Text != "panic: kaboom" || lines[0].Stream != Stderr {
		t.Fatalf("panic output = %q", texts(lines))
	}
}
