package queue

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// A job from NewJob is the first delivery from a default queue: a handler
// called with it can record a result up to the default MaxResult, and the
// test reads it back.
func TestNewJobDefaults(t *testing.T) {
	before := time.Now()
	j := NewJob([]byte("body"))
	if j.ID == "" || j.Priority != Normal || j.Attempt != 1 || string(j.Payload) != "body" || j.Headers != nil {
		t.Fatalf("NewJob = %+v; want a generated ID, Normal, attempt 1, the payload, no headers", j)
	}
	if j.EnqueuedAt.Before(before) || j.EnqueuedAt.After(time.Now()) {
		t.Fatalf("EnqueuedAt %v; want now", j.EnqueuedAt)
	}
	if other := NewJob(nil); other.ID == j.ID {
		t.Fatalf("two jobs share the ID %q", j.ID)
	}
	if j.Result() != nil {
		t.Fatalf("Result before SetResult = %q; want nil", j.Result())
	}

	handler := func(_ context.Context, j *Job) error { return j.SetResult(bytes.ToUpper(j.Payload)) }
	if err := handler(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	if got := string(j.Result()); got != "BODY" {
		t.Fatalf("Result = %q; want BODY", got)
	}
	j.Result()[0] = 'x' // a copy: the recorded result is unchanged
	if got := string(j.Result()); got != "BODY" {
		t.Fatalf("Result after changing a returned copy = %q; want BODY", got)
	}

	if err := j.SetResult(make([]byte, 64<<10)); err != nil {
		t.Fatalf("a 64 KiB result (the default limit): %v", err)
	}
	if err := j.SetResult(make([]byte, 64<<10+1)); !errors.Is(err, ErrResultTooLarge) {
		t.Fatalf("a result over 64 KiB: %v; want ErrResultTooLarge", err)
	}
}

// JobMaxResult gives the job the limit of the queue the handler serves; a
// result over it is refused and the previous one kept.
func TestNewJobMaxResult(t *testing.T) {
	j := NewJob(nil, JobMaxResult(4))
	if err := j.SetResult([]byte("four")); err != nil {
		t.Fatal(err)
	}
	err := j.SetResult([]byte("fives"))
	if !errors.Is(err, ErrResultTooLarge) || err.Error() != "queue: result too large: 5 bytes, limit 4" {
		t.Fatalf("over the limit: %v", err)
	}
	if got := string(j.Result()); got != "four" {
		t.Fatalf("Result = %q; want the previous result kept", got)
	}
	if err := NewJob(nil, JobMaxResult(-1)).SetResult([]byte("x")); !errors.Is(err, ErrResultTooLarge) {
		t.Fatalf("a negative limit accepted a result: %v", err)
	}
}
