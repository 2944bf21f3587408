package hostctx

import (
	"context"
	"reflect"
	"testing"
)

func TestRegistryNamesAndRemove(t *testing.T) {
	r := NewRegistry()
	a, removeA := r.Add("tasks", func() any { return 1 })
	b, removeB := r.Add("tasks", func() any { return 2 })
	if a != "tasks" || b != "tasks#2" {
		t.Fatalf("names = %q, %q; want tasks, tasks#2", a, b)
	}
	if got := r.Snapshot(); !reflect.DeepEqual(got, map[string]any{"tasks": 1, "tasks#2": 2}) {
		t.Fatalf("snapshot = %v", got)
	}
	removeA()
	// A new section may reuse the freed name; the stale remove must not delete it.
	c, _ := r.Add("tasks", func() any { return 3 })
	removeA()
	if c != "tasks" {
		t.Fatalf("reused name = %q", c)
	}
	removeB()
	if got := r.Snapshot(); !reflect.DeepEqual(got, map[string]any{"tasks": 3}) {
		t.Fatalf("after removes = %v", got)
	}
}

func TestContextCarriesHost(t *testing.T) {
	if From(context.Background()) != nil {
		t.Fatal("empty context has a host")
	}
	h := New(nil, nil)
	ctx := With(context.Background(), h)
	if From(ctx) != h || Logger(ctx, nil) != h.Logger {
		t.Fatal("host not carried")
	}
}
