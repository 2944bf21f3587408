package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/cloudrole/cloudrole/durable"
	"github.com/cloudrole/cloudrole/queue"
)

// noHubs is the notice of a fleet where no role has opened a hub.
const noHubs = "no orchestrations in this fleet: no role on this NATS has opened a hub"

// hubClients are the hubs the console reads and acts on, opened as
// clients (no workers: they run no goroutine) without creating anything,
// and kept while the role's connection stays the same.
type hubClients struct {
	mu   sync.Mutex
	on   *queue.Client
	hubs map[string]*durable.Hub
}

// hub returns the hub called name on the role's NATS, or a notice saying
// why there is none. It opens the hub's stream with NoCreate: looking at
// the console must leave no stream behind.
func (c *Console) hub(ctx context.Context, name string) (*durable.Hub, string) {
	cl := c.client()
	if cl == nil {
		return nil, "this role has not connected to NATS: there are no orchestrations to show"
	}
	hc := &c.hc
	hc.mu.Lock()
	if hc.on != cl {
		for _, h := range hc.hubs {
			_ = h.Close()
		}
		hc.on, hc.hubs = cl, map[string]*durable.Hub{}
	}
	h := hc.hubs[name]
	hc.mu.Unlock()
	if h != nil {
		return h, ""
	}
	h, err := durable.Open(ctx, durable.Options{Hub: name, Conn: cl.Conn(), NoCreate: true})
	switch {
	case errors.Is(err, durable.ErrNoHub):
		return nil, "no hub " + name + " in this fleet: no role on this NATS has opened it"
	case errors.Is(err, durable.ErrInvalidOptions):
		return nil, fmt.Sprintf("no hub %q: %v", name, err)
	case err != nil:
		return nil, err.Error()
	}
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if hc.on != cl { // the connection changed meanwhile: this one is stale
		_ = h.Close()
		return nil, "the role's NATS connection changed: try again"
	}
	if kept := hc.hubs[name]; kept != nil { // opened twice at once
		_ = h.Close()
		return kept, ""
	}
	hc.hubs[name] = h
	return h, ""
}

// runtimeStatuses are the states the orchestrations page offers as
// filters, in Durable Functions' order.
var runtimeStatuses = []durable.RuntimeStatus{durable.Pending, durable.Running, durable.Completed,
	durable.ContinuedAsNew, durable.Failed, durable.Terminated}

// maxOrchRows caps the instances the orchestrations page lists.
const maxOrchRows = 200

// orchRow is one instance on the orchestrations page.
type orchRow struct {
	Hub string
	*durable.Status
}

// orchList is the orchestrations page.
type orchList struct {
	Status   durable.RuntimeStatus // the filter, "" for all
	Statuses []durable.RuntimeStatus
	Hubs     []string
	Rows     []orchRow // newest first, at most maxOrchRows
	Total    int       // instances that match the filter
	Errors   []string  // hubs that could not be read, each with why
}

// orchestrations reads every instance of every hub on the role's NATS
// (the hubs' streams, DURABLE_<hub>, are the list of hubs: they exist
// whether or not a worker serves them now).
func (c *Console) orchestrations(ctx context.Context, status string) (*orchList, string) {
	d := &orchList{Statuses: runtimeStatuses}
	if status != "" {
		rs, err := durable.ParseRuntimeStatus(status)
		if err != nil {
			return nil, "unknown runtimeStatus " + fmt.Sprintf("%q", status) + ": filter by one of " + statusList()
		}
		d.Status = rs
	}
	cl := c.client()
	if cl == nil {
		return nil, "this role has not connected to NATS: there are no orchestrations to show"
	}
	hubs, err := durable.Hubs(ctx, cl.Conn())
	if err != nil {
		return nil, err.Error()
	}
	if len(hubs) == 0 {
		return nil, noHubs
	}
	d.Hubs = hubs
	var opts durable.ListOptions
	if d.Status != "" {
		opts.RuntimeStatus = []durable.RuntimeStatus{d.Status}
	}
	for _, name := range hubs {
		h, note := c.hub(ctx, name)
		if h == nil {
			d.Errors = append(d.Errors, name+": "+note)
			continue
		}
		list, err := h.List(ctx, opts)
		if err != nil {
			d.Errors = append(d.Errors, name+": "+err.Error())
			continue
		}
		for _, s := range list {
			d.Rows = append(d.Rows, orchRow{Hub: name, Status: s})
		}
	}
	sort.SliceStable(d.Rows, func(i, j int) bool { return d.Rows[i].CreatedTime.After(d.Rows[j].CreatedTime) })
	d.Total = len(d.Rows)
	if len(d.Rows) > maxOrchRows {
		d.Rows = d.Rows[:maxOrchRows]
	}
	return d, ""
}

func statusList() string {
	var b bytes.Buffer
	for i, s := range runtimeStatuses {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(s))
	}
	return b.String()
}

// maxHistoryEvents caps the history events an instance page shows (the
// newest): an eternal orchestration kept with KeepContinuedAsNew, or a
// long fan-out, can have thousands.
const maxHistoryEvents = 500

// orchDetail is an instance's page.
type orchDetail struct {
	Hub    string
	Status *durable.Status
	// Ended: it runs no more (Completed, Failed, Terminated): no live
	// updates, no raise or terminate, and it may be purged.
	Ended bool
	// Input and Output are the JSON, indented for reading.
	Input, Output string
	History       []durable.HistoryEvent // oldest first, the newest maxHistoryEvents
	Hidden        int                    // events before those shown
	HistoryErr    string
}

// orchestration reads one instance's status and history.
func (c *Console) orchestration(ctx context.Context, hub, id string) (*orchDetail, string) {
	h, note := c.hub(ctx, hub)
	if h == nil {
		return nil, note
	}
	st, err := h.Status(ctx, id)
	if errors.Is(err, durable.ErrNotFound) {
		return nil, noInstance(hub, id)
	}
	if err != nil {
		return nil, err.Error()
	}
	d := &orchDetail{Hub: hub, Status: st, Input: indent(st.Input), Output: indent(st.Output)}
	switch st.RuntimeStatus {
	case durable.Completed, durable.Failed, durable.Terminated:
		d.Ended = true
	}
	evs, err := h.History(ctx, id)
	if err != nil {
		d.HistoryErr = err.Error()
	}
	if len(evs) > maxHistoryEvents {
		d.Hidden = len(evs) - maxHistoryEvents
		evs = evs[d.Hidden:]
	}
	d.History = evs
	return d, ""
}

// noInstance is the notice of an instance the hub does not have.
func noInstance(hub, id string) string {
	return "no orchestration instance " + id + " in hub " + hub + ": it never existed, or it was purged"
}

// indent lays JSON out for reading; what is not JSON stays as it is.
func indent(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}
