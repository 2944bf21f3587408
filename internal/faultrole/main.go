package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/cloudrole/cloudrole"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
)

type faultRole struct{ role.Default }

func (faultRole) Run(ctx context.Context, env role.Env) error {
	path, err := env.Setting("Effects")
	if err != nil {
		return err
	}
	// O_APPEND: each line is one write(2), so a SIGKILL leaves whole
	// lines only; the page cache keeps them across a process crash.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()

	c, err := queue.Connect(ctx)
	if err != nil {
		return err
	}
	cfg := queueConfig(num(env, "AckWaitMs", 2000), num(env, "Replicas", 1))
	cfg.MaxDeliver = num(env, "MaxDeliver", 0)
	cfg.FleetConcurrency = num(env, "FleetConcurrency", 0)
	q, err := c.Queue(ctx, role.StringOr(env, "Queue", "faults"), cfg)
	if err != nil {
		return err
	}
	// Starts, when set, records "<id> <attempt>" as each handler starts;
	// Timeline records "start|end <id> <unix nanoseconds>" around each.
	var starts, timeline *os.File
	for _, f := range []struct {
		setting string
		file    **os.File
	}{{"Starts", &starts}, {"Timeline", &timeline}} {
		if path := role.StringOr(env, f.setting, ""); path != "" {
			if *f.file, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
				return err
			}
			defer (*f.file).Close()
		}
	}
	work := time.Duration(num(env, "WorkMs", 1)) * time.Millisecond
	var idem *queue.Idempotency
	if on, _ := role.Bool(env, "Idempotent"); on {
		if idem, err = c.Idempotency(ctx, queue.IdempotencyOptions{ClaimTimeout: time.Second}); err != nil {
			return err
		}
	}
	return q.Work(ctx, func(ctx context.Context, j *queue.Job) error {
		if starts != nil {
			if _, err := fmt.Fprintf(starts, "%s %d\n", j.ID, j.Attempt); err != nil {
				return err
			}
		}
		if timeline != nil {
			if _, err := fmt.Fprintf(timeline, "start %s %d\n", j.ID, time.Now().UnixNano()); err != nil {
				return err
			}
			defer func() { fmt.Fprintf(timeline, "end %s %d\n", j.ID, time.Now().UnixNano()) }()
		}
		if work > 0 {
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-time.After(work):
			}
		}
		record := func(context.Context) error {
			if _, err := f.WriteString(j.ID + "\n"); err != nil {
				return errors.Join(errors.New("recording the effect"), err)
			}
			return nil
		}
		if idem == nil {
			return record(ctx)
		}
		// A redelivered job whose effect is already recorded is skipped;
		// one whose first run still holds the claim is retried later.
		_, err := idem.Do(ctx, j.ID, record)
		return err
	}, queue.WorkerOptions{Concurrency: num(env, "Concurrency", 4), DrainTimeout: time.Duration(num(env, "DrainMs", 0)) * time.Millisecond})
}

// queueConfig is the queue's config; the fault suite's enqueuer declares
// the same values (faults.faultQueueConfig), since Queue refuses a
// declaration that differs from the stored one (and whichever of the two
// runs first creates the queue).
func queueConfig(ackWaitMs, replicas int) queue.Config {
	return queue.Config{
		AckWait:   time.Duration(ackWaitMs) * time.Millisecond,
		RetryBase: 100 * time.Millisecond,
		RetryMax:  time.Second,
		Replicas:  replicas,
	}
}

func num(env role.Env, name string, def int) int {
	n, err := strconv.Atoi(role.StringOr(env, name, strconv.Itoa(def)))
	if err != nil {
		panic(fmt.Sprintf("setting %s: %v", name, err))
	}
	return n
}

func main() { cloudrole.Main(faultRole{}) }
