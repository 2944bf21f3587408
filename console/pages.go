package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cloudrole/cloudrole/queue"
)

// view is a page's main section: the template that draws it and the data
// it needs, so the page and its live updates render the same thing.
type view struct {
	title, nav, main string
	data             func(ctx context.Context) (any, string) // data, and a notice
	// page is the whole page's template; defaults to nav + ".html".
	page string
	// done, if set, reports after data that what the view shows will not
	// change again (a run that ended): its page gets no live updates,
	// and a live stream of it ends.
	done func() bool
}

func (c *Console) fleetView() view {
	return view{title: "Fleet", nav: "fleet", main: "fleet-main", data: func(ctx context.Context) (any, string) {
		ms, note := c.fleetMembers(ctx)
		sortMembers(ms)
		return ms, note
	}}
}

func (c *Console) instanceView(role, inst string) view {
	return view{title: inst, nav: "fleet", main: "instance-main", data: func(ctx context.Context) (any, string) {
		m, note := c.instance(ctx, role, inst)
		if m.Instance == "" {
			return nil, note
		}
		return m, note
	}}
}

func (c *Console) queuesView() view {
	return view{title: "Queues", nav: "queues", main: "queues-main", data: func(ctx context.Context) (any, string) {
		rows, note := c.queueRows(ctx)
		return rows, note
	}}
}

// queueDetail is the queue page: its figures and a page of dead letters.
type queueDetail struct {
	Row       queueRow
	Dead      []queue.DeadLetter
	NextAfter uint64 // the after= of the next page, 0 if none
	After     uint64
}

func (c *Console) queueView(name string, after uint64) view {
	return view{title: name, nav: "queues", main: "queue-main", data: func(ctx context.Context) (any, string) {
		cl := c.client()
		if cl == nil {
			return nil, "this role has not connected to NATS"
		}
		d := queueDetail{Row: c.queueRow(ctx, cl, name), After: after}
		if d.Row.Err != "" {
			return d, ""
		}
		q, err := c.open(ctx, cl, name)
		if err != nil {
			return d, err.Error()
		}
		const per = 50
		dead, err := q.DeadLettersAfter(ctx, after, per+1)
		if err != nil {
			return d, err.Error()
		}
		if len(dead) > per {
			dead = dead[:per]
			d.NextAfter = dead[per-1].Seq
		}
		d.Dead = dead
		return d, ""
	}}
}

// show renders v as a whole page, with its live-update URL.
func (c *Console) show(w http.ResponseWriter, r *http.Request, who string, v view, events string) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	data, note := v.data(ctx)
	if v.done != nil && v.done() {
		events = ""
	}
	name := v.page
	if name == "" {
		name = v.nav + ".html"
	}
	c.render(w, name, page{Title: v.title, Nav: v.nav, Who: who, Data: data, Notice: note,
		Events: events, Error: r.URL.Query().Get("error"), Done: r.URL.Query().Get("notice"), Next: r.URL.RequestURI()})
}

func (c *Console) fleetPage(w http.ResponseWriter, r *http.Request, who string) {
	c.show(w, r, who, c.fleetView(), "/console/events?view=fleet")
}

func (c *Console) instancePage(w http.ResponseWriter, r *http.Request, who string) {
	role, inst := r.PathValue("role"), r.PathValue("instance")
	v := c.instanceView(role, inst)
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	data, note := v.data(ctx)
	c.render(w, "instance.html", page{Title: inst, Nav: "fleet", Who: who, Data: data, Notice: note,
		Events: "/console/events?view=instance&role=" + url.QueryEscape(role) + "&instance=" + url.QueryEscape(inst),
		Error:  r.URL.Query().Get("error"), Done: r.URL.Query().Get("notice")})
}

func (c *Console) queuesPage(w http.ResponseWriter, r *http.Request, who string) {
	c.show(w, r, who, c.queuesView(), "/console/events?view=queues")
}

func (c *Console) queuePage(w http.ResponseWriter, r *http.Request, who string) {
	name := r.PathValue("name")
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	v := c.queueView(name, after)
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	data, note := v.data(ctx)
	c.render(w, "queue.html", page{Title: name, Nav: "queues", Who: who, Data: data, Notice: note,
		Events: "/console/events?view=queue&name=" + url.QueryEscape(name) + "&after=" + strconv.FormatUint(after, 10),
		Error:  r.URL.Query().Get("error"), Done: r.URL.Query().Get("notice"), Next: r.URL.RequestURI()})
}

// viewOf finds the view an events request asks for.
func (c *Console) viewOf(q url.Values) (view, bool) {
	switch q.Get("view") {
	case "fleet":
		return c.fleetView(), true
	case "instance":
		return c.instanceView(q.Get("role"), q.Get("instance")), true
	case "queues":
		return c.queuesView(), true
	case "queue":
		after, _ := strconv.ParseUint(q.Get("after"), 10, 64)
		return c.queueView(q.Get("name"), after), true
	case "jobs":
		return c.jobsView(), true
	case "job":
		return c.jobView(q.Get("job"), q.Get("state")), true
	case "run":
		return c.runView(q.Get("job"), q.Get("id")), true
	case "orchestrations":
		return c.orchestrationsView(q.Get("status")), true
	case "orchestration":
		return c.orchestrationView(q.Get("hub"), q.Get("id")), true
	case "schedules":
		return c.schedulesView(), true
	}
	return view{}, false
}
