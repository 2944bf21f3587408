package console

import (
	"context"
	"net/http"
	"net/url"
)

// The orchestrations pages: every instance of every hub on the role's
// NATS, filtered by runtimeStatus, and an instance with its status,
// input, output, failure and history. They read through durable hubs
// opened as clients, as the workflows verb does.

func (c *Console) orchestrationsView(status string) view {
	return view{title: "Orchestrations", nav: "orchestrations", main: "orchestrations-main", data: func(ctx context.Context) (any, string) {
		d, note := c.orchestrations(ctx, status)
		if d == nil {
			return nil, note
		}
		return d, note
	}}
}

// orchestrationView ends its live updates once the instance has ended:
// nothing about it changes after that (a purge aside).
func (c *Console) orchestrationView(hub, id string) view {
	ended := false
	return view{title: id, nav: "orchestrations", page: "orchestration.html", main: "orchestration-main", done: func() bool { return ended },
		data: func(ctx context.Context) (any, string) {
			d, note := c.orchestration(ctx, hub, id)
			if d == nil {
				ended = true // an unknown instance or hub: nothing to follow
				return nil, note
			}
			ended = d.Ended && d.HistoryErr == ""
			return d, note
		}}
}

func (c *Console) orchestrationsPage(w http.ResponseWriter, r *http.Request, who string) {
	status := r.URL.Query().Get("status")
	c.show(w, r, who, c.orchestrationsView(status), "/console/events?view=orchestrations&status="+url.QueryEscape(status))
}

func (c *Console) orchestrationPage(w http.ResponseWriter, r *http.Request, who string) {
	hub, id := r.PathValue("hub"), r.PathValue("id")
	c.show(w, r, who, c.orchestrationView(hub, id),
		"/console/events?view=orchestration&hub="+url.QueryEscape(hub)+"&id="+url.QueryEscape(id))
}

func instancePath(hub, id string) string {
	return "/console/orchestrations/" + url.PathEscape(hub) + "/" + url.PathEscape(id)
}
