package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cloudrole/cloudrole"
	"github.com/cloudrole/cloudrole/durable"
	"github.com/cloudrole/cloudrole/role"
	"github.com/cloudrole/cloudrole/tasks"
)

const configFile = "examples/orders-workflow/orders-workflow.yaml"

type ordersWorkflow struct {
	role.Default
	exitWhenDone bool

	mu  sync.Mutex
	hub *durable.Hub
}

// OnStart opens the hub on the role's NATS and registers the
// orchestrators and activities; OnStop closes it.
func (o *ordersWorkflow) OnStart(ctx context.Context, env role.Env) error {
	h, err := durable.Open(ctx, durable.Options{})
	if err != nil {
		return err
	}
	o.mu.Lock()
	o.hub = h
	o.mu.Unlock()
	for _, fn := range []any{ProcessOrder, PeriodicCleanup} {
		if err := h.RegisterOrchestrator(fn); err != nil {
			return err
		}
	}
	for _, fn := range []any{Reserve, Release, ReleaseExpired, Charge, Refund, Ship} {
		if err := h.RegisterActivity(fn); err != nil {
			return err
		}
	}
	return nil
}

func (o *ordersWorkflow) OnStop(context.Context, role.Env) error {
	if o.hub != nil {
		return o.hub.Close()
	}
	return nil
}

// Run starts the eternal cleanup and the demo's orders, and works the hub
// until the role stops.
func (o *ordersWorkflow) Run(ctx context.Context, env role.Env) error {
	every, err := time.ParseDuration(role.StringOr(env, "CleanupEvery", "30s"))
	if err != nil {
		return fmt.Errorf("setting CleanupEvery: %w", err)
	}
	// Every instance starts it; the one whose start lands first runs it.
	err = o.hub.Start(ctx, PeriodicCleanup, durable.StartOptions{InstanceID: "cleanup"}, Cleanup{Every: every})
	if err != nil && !errors.Is(err, durable.ErrAlreadyRunning) {
		return err
	}
	orders, err := demoOrders(env)
	if err != nil {
		return err
	}
	g := tasks.NewGroup(ctx, tasks.Options{Name: "orders-workflow"})
	if err := g.Go("workers", o.hub.Work); err != nil {
		return err
	}
	if err := g.Go("demo", func(ctx context.Context) error { return o.demo(ctx, env, orders) }, tasks.Restart(tasks.Never)); err != nil {
		return err
	}
	return g.Wait()
}

// demo starts the orders and reports each one's end.
func (o *ordersWorkflow) demo(ctx context.Context, env role.Env, orders []Order) error {
	log := env.Logger()
	for _, ord := range orders {
		if s, err := o.hub.Status(ctx, ord.ID); err == nil {
			// An earlier run started it: it resumes (or has ended) on its own.
			log.Info("order started by an earlier run", "order", ord.ID, "status", s.RuntimeStatus)
			continue
		}
		err := o.hub.Start(ctx, ProcessOrder, durable.StartOptions{InstanceID: ord.ID}, ord)
		switch {
		case errors.Is(err, durable.ErrAlreadyRunning):
			log.Info("order already running (started by another instance)", "order", ord.ID)
		case err != nil:
			return err
		}
		if ord.Amount > ord.ApprovalAbove {
			fmt.Printf("%s (%d cents) waits for approval:  go run ./examples/orders-workflow workflows raise %s approve '\"alice\"'\n", ord.ID, ord.Amount, ord.ID)
		}
	}
	var wg sync.WaitGroup
	for _, ord := range orders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := o.hub.Wait(ctx, ord.ID)
			if err != nil {
				return // stopping
			}
			switch s.RuntimeStatus {
			case durable.Completed:
				fmt.Printf("%s %s: %s\n", ord.ID, s.RuntimeStatus, s.Output)
			default:
				fmt.Printf("%s %s: %s\n", ord.ID, s.RuntimeStatus, s.Failure.Message)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() == nil {
		fmt.Println("every order has ended; the cleanup runs on: go run ./examples/orders-workflow workflows status cleanup")
		if o.exitWhenDone {
			env.RequestStop("every order has ended (-exit-when-done)")
		}
	}
	return nil
}

// demoOrders are the demo's orders: most ship, one needs an approval, one
// is declined and compensated, one cannot be shipped and is refunded.
func demoOrders(env role.Env) ([]Order, error) {
	above, err := strconv.Atoi(role.StringOr(env, "ApprovalAbove", "50000"))
	if err != nil {
		return nil, fmt.Errorf("setting ApprovalAbove: %w", err)
	}
	wait, err := time.ParseDuration(role.StringOr(env, "ApprovalTimeout", "10m"))
	if err != nil {
		return nil, fmt.Errorf("setting ApprovalTimeout: %w", err)
	}
	orders := []Order{
		{ID: "order-1", Item: "keyboard", Qty: 1, Amount: 4900, Card: "4242-4242-4242-4242"},
		{ID: "order-2", Item: "mouse", Qty: 2, Amount: 3800, Card: "4242-4242-4242-4242"},
		{ID: "order-3", Item: "monitor", Qty: 2, Amount: 89800, Card: "4242-4242-4242-4242"}, // needs approval
		{ID: "order-4", Item: "keyboard", Qty: 1, Amount: 4900, Card: "4000-0000-0000-0002"}, // declined
		{ID: "order-5", Item: "monitor", Qty: 6, Amount: 49900, Card: "4242-4242-4242-4242"}, // cannot ship
	}
	for i := range orders {
		orders[i].ApprovalAbove, orders[i].ApprovalTimeout = above, wait
	}
	theShop.flaky.Store(2) // the payment service is busy for its first two calls
	return orders, nil
}

// Routes serves the orchestrations' management API (/durable/...) and the
// shop's own POST /orders, which starts an order and answers like Durable
// Functions' CreateCheckStatusResponse. Starting work is an action: it
// needs the operator token, as the API's own start does.
func (o *ordersWorkflow) Routes(mux *http.ServeMux) {
	durable.Routes(mux, durable.HTTPOptions{})
	mux.HandleFunc("POST /orders", durable.RequireOperator(func(w http.ResponseWriter, r *http.Request) {
		var ord Order
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&ord); err != nil || ord.ID == "" {
			http.Error(w, "want an order as JSON with an id", http.StatusBadRequest)
			return
		}
		if ord.ApprovalAbove == 0 {
			ord.ApprovalAbove, ord.ApprovalTimeout = 50000, 10*time.Minute
		}
		o.mu.Lock()
		h := o.hub
		o.mu.Unlock()
		if h == nil {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		switch err := h.Start(r.Context(), ProcessOrder, durable.StartOptions{InstanceID: ord.ID}, ord); {
		case errors.Is(err, durable.ErrAlreadyRunning):
			http.Error(w, err.Error(), http.StatusConflict)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			durable.CheckStatusResponse(w, r, "", ord.ID)
		}
	}))
}

func main() {
	o := &ordersWorkflow{}
	cloudrole.MainWith(o, cloudrole.Options{
		DefaultConfig: configFile,
		Flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&o.exitWhenDone, "exit-when-done", false, "stop the role once every demo order has ended")
		},
	})
}
