package queue

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// A job saves progress step by step, "crashes", and a run on another
// connection (a new worker) loads the last checkpoint and resumes from it.
func TestCheckpointResumeAfterCrash(t *testing.T) {
	ctx := kvCtx(t)
	_, c := testClient(t)
	first, err := c.Checkpoints(ctx, CheckpointOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, rev, err := first.Load(ctx, "job-1")
	if data != nil || rev != 0 || err != nil {
		t.Fatalf("Load of a job with no checkpoint = %q, %d, %v; want nil, 0, nil", data, rev, err)
	}
	for _, step := range []string{"step=1", "step=2", "step=3"} {
		if rev, err = first.Save(ctx, "job-1", []byte(step), rev); err != nil {
			t.Fatalf("save %s: %v", step, err)
		}
	}
	// The first worker is gone; a second instance picks the job up.
	second, err := peerClient(t, c).Checkpoints(ctx, CheckpointOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, rev2, err := second.Load(ctx, "job-1")
	if err != nil || string(data) != "step=3" || rev2 != rev {
		t.Fatalf("resumed from %q at rev %d (err %v); want step=3 at rev %d", data, rev2, err, rev)
	}
	if _, err := second.Save(ctx, "job-1", []byte("step=4"), rev2); err != nil {
		t.Fatal(err)
	}
	if err := second.Delete(ctx, "job-1"); err != nil {
		t.Fatal(err)
	}
	if err := second.Delete(ctx, "job-1"); err != nil {
		t.Fatalf("deleting a missing checkpoint: %v", err)
	}
	if data, rev, err := first.Load(ctx, "job-1"); data != nil || rev != 0 || err != nil {
		t.Fatalf("Load after Delete = %q, %d, %v; want nil, 0, nil", data, rev, err)
	}
	if _, err := first.Save(ctx, "job-1", []byte("again"), 0); err != nil {
		t.Fatalf("save anew after delete: %v", err)
	}
}

// A stale run saving with an old revision is refused and overwrites
// nothing; so is a second "first" save.
func TestCheckpointConflict(t *testing.T) {
	ctx := kvCtx(t)
	_, c := testClient(t)
	a, err := c.Checkpoints(ctx, CheckpointOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := peerClient(t, c).Checkpoints(ctx, CheckpointOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r1, err := a.Save(ctx, "job-2", []byte("a1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Save(ctx, "job-2", []byte("b0"), 0)
	mustErrIs(t, err, ErrCheckpointConflict)
	if _, err := b.Save(ctx, "job-2", []byte("b1"), r1); err != nil {
		t.Fatal(err)
	}
	_, err = a.Save(ctx, "job-2", []byte("a2"), r1) // a is stale now
	mustErrIs(t, err, ErrCheckpointConflict)
	if data, _, _ := a.Load(ctx, "job-2"); string(data) != "b1" {
		t.Fatalf("checkpoint %q; want b1 kept", data)
	}
	if err := a.Delete(ctx, "job-2"); err != nil {
		t.Fatal(err)
	}
	_, err = b.Save(ctx, "job-2", []byte("b2"), r1+1)
	mustErrIs(t, err, ErrCheckpointConflict)
}

func TestCheckpointBadInput(t *testing.T) {
	ctx := kvCtx(t)
	_, c := testClient(t)
	cp, err := c.Checkpoints(ctx, CheckpointOptions{Bucket: "cp_small", MaxSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cp.Save(ctx, "big", bytes.Repeat([]byte{'x'}, 1025), 0)
	mustErrIs(t, err, ErrCheckpointTooLarge)
	if !strings.Contains(err.Error(), "1025") || !strings.Contains(err.Error(), "1024") {
		t.Fatalf("error %q does not give the sizes", err)
	}
	if data, rev, _ := cp.Load(ctx, "big"); data != nil || rev != 0 {
		t.Fatal("an oversized checkpoint was stored")
	}
	if _, err := cp.Save(ctx, "fits", bytes.Repeat([]byte{'x'}, 1024), 0); err != nil {
		t.Fatalf("a checkpoint of exactly MaxSize: %v", err)
	}
	for _, id := range []string{"", "a b", "a..b", "x>"} {
		_, err := cp.Save(ctx, id, nil, 0)
		mustErrIs(t, err, ErrBadKey)
		_, _, err = cp.Load(ctx, id)
		mustErrIs(t, err, ErrBadKey)
		mustErrIs(t, cp.Delete(ctx, id), ErrBadKey)
	}
	withTTL, err := c.Checkpoints(ctx, CheckpointOptions{Bucket: "cp_ttl", TTL: time.Hour})
	if err != nil {
		t.Fatalf("a bucket with a TTL: %v", err)
	}
	if rev, err := withTTL.Save(ctx, "j", []byte("x"), 0); err != nil || rev == 0 {
		t.Fatalf("save with a TTL: rev %d, %v", rev, err)
	}
	for _, o := range []CheckpointOptions{{MaxSize: -1}, {TTL: -1}, {Replicas: -1}} {
		if _, err := c.Checkpoints(ctx, o); !errors.Is(err, ErrBadOptions) {
			t.Fatalf("options %+v: %v; want ErrBadOptions", o, err)
		}
	}
}
