package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/cschleiden/go-workflows/workflow"
)

// Order is what ProcessOrder gets.
type Order struct {
	ID     string `json:"id"`
	Item   string `json:"item"`
	Qty    int    `json:"qty"`
	Amount int    `json:"amount"` // in cents
	Card   string `json:"card"`
	// ApprovalAbove: an order of a larger amount waits for the "approve"
	// event (raised from the command line or HTTP) before the charge.
	ApprovalAbove int `json:"approval_above"`
	// ApprovalTimeout is how long it waits before it gives up.
	ApprovalTimeout time.Duration `json:"approval_timeout"`
}

// Receipt is what a shipped order returns.
type Receipt struct {
	Reservation string `json:"reservation"`
	Charge      string `json:"charge"`
	Tracking    string `json:"tracking"`
	ApprovedBy  string `json:"approved_by,omitempty"`
}

// retries are the activities' retry options: a flaky payment service is
// tried again after 200 ms, then 400 ms, at most 4 times in 30 s.
var retries = workflow.ActivityOptions{RetryOptions: workflow.RetryOptions{
	MaxAttempts:        4,
	FirstRetryInterval: 200 * time.Millisecond,
	BackoffCoefficient: 2,
	MaxRetryInterval:   2 * time.Second,
	RetryTimeout:       30 * time.Second,
}}

// ProcessOrder reserves the stock, waits for an approval if the amount
// asks for one, charges the card and ships. Each step that fails undoes
// the ones before it (a compensation), and the order fails saying why.
//
// An orchestrator is replayed from its history: it must be deterministic
// (no clock, no randomness, no I/O of its own; activities do those).
func ProcessOrder(ctx workflow.Context, o Order) (Receipt, error) {
	var r Receipt
	var err error
	if r.Reservation, err = workflow.ExecuteActivity[string](ctx, retries, Reserve, o).Get(ctx); err != nil {
		return r, fmt.Errorf("reserve: %w", err)
	}
	release := func(why error) error {
		if _, err := workflow.ExecuteActivity[any](ctx, retries, Release, r.Reservation).Get(ctx); err != nil {
			return errors.Join(why, fmt.Errorf("releasing %s: %w", r.Reservation, err))
		}
		return fmt.Errorf("%w (reservation %s released)", why, r.Reservation)
	}
	if o.ApprovalAbove > 0 && o.Amount > o.ApprovalAbove {
		if r.ApprovedBy, err = awaitApproval(ctx, o); err != nil {
			return r, release(err)
		}
	}
	if r.Charge, err = workflow.ExecuteActivity[string](ctx, retries, Charge, o).Get(ctx); err != nil {
		return r, release(fmt.Errorf("charge: %w", err))
	}
	if r.Tracking, err = workflow.ExecuteActivity[string](ctx, retries, Ship, o).Get(ctx); err != nil {
		if _, rerr := workflow.ExecuteActivity[any](ctx, retries, Refund, r.Charge).Get(ctx); rerr != nil {
			err = errors.Join(err, fmt.Errorf("refunding %s: %w", r.Charge, rerr))
		}
		return r, release(fmt.Errorf("ship: %w (charge %s refunded)", err, r.Charge))
	}
	return r, nil
}

// awaitApproval waits for the "approve" event (its data: who approves)
// or gives up after the order's ApprovalTimeout, on a durable timer.
func awaitApproval(ctx workflow.Context, o Order) (string, error) {
	workflow.Logger(ctx).Info("order waits for approval", "order", o.ID, "amount", o.Amount)
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	timeout := workflow.ScheduleTimer(tctx, o.ApprovalTimeout)
	var by string
	approved := false
	workflow.Select(ctx,
		workflow.Receive(workflow.NewSignalChannel[string](ctx, "approve"), func(_ workflow.Context, v string, _ bool) {
			by, approved = v, true
		}),
		workflow.Await(timeout, func(workflow.Context, workflow.Future[any]) {}),
	)
	if !approved {
		return "", fmt.Errorf("not approved within %v", o.ApprovalTimeout)
	}
	return by, nil
}

// Cleanup is the input of PeriodicCleanup.
type Cleanup struct {
	Every     time.Duration `json:"every"`
	Iteration int           `json:"iteration"`
}

// PeriodicCleanup is an eternal orchestration (Durable Functions' way):
// it releases expired reservations, waits on a durable timer, and
// continues as new, which starts the next iteration with a fresh history.
// Every instance of the role starts it under the fixed ID "cleanup" and
// ignores durable.ErrAlreadyRunning: it runs once across the fleet, one
// iteration after another, and survives restarts; terminate it to stop.
func PeriodicCleanup(ctx workflow.Context, c Cleanup) (int, error) {
	released, err := workflow.ExecuteActivity[int](ctx, retries, ReleaseExpired).Get(ctx)
	if err != nil {
		workflow.Logger(ctx).Warn("cleanup failed; trying again next time", "err", err)
	} else if released > 0 {
		workflow.Logger(ctx).Info("cleanup released expired reservations", "released", released, "iteration", c.Iteration)
	}
	if _, err := workflow.ScheduleTimer(ctx, c.Every).Get(ctx); err != nil {
		return c.Iteration, err
	}
	return c.Iteration, workflow.ContinueAsNew(ctx, Cleanup{Every: c.Every, Iteration: c.Iteration + 1})
}
