package queue

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// A job's handler continues the trace of the code that enqueued it.
func TestTraceContextCarried(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "traced", Config{})
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.Background(), parent)
	if _, err := q.Enqueue(ctx, []byte("traced")); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(context.Background(), []byte("plain")); err != nil {
		t.Fatal(err)
	}
	got := make(chan trace.SpanContext, 2)
	startWorker(t, context.Background(), q, func(ctx context.Context, j *Job) error {
		got <- trace.SpanContextFromContext(ctx)
		return nil
	}, WorkerOptions{})
	a, b := recv(t, got, "a job"), recv(t, got, "a job")
	if a.TraceID() != tid {
		a, b = b, a
	}
	if a.TraceID() != tid || a.SpanID() != sid || !a.IsRemote() || !a.IsSampled() {
		t.Fatalf("traced job's context %+v; want the enqueuer's span as remote parent", a)
	}
	if b.IsValid() {
		t.Fatalf("untraced job's context carries a span: %+v", b)
	}
}
