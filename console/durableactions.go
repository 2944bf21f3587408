package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudrole/cloudrole/durable"
)

// maxEventData bounds an event's data typed into the console (the hub
// refuses more than the server's max_payload anyway; this says so
// sooner, and keeps a form from posting megabytes).
const maxEventData = 64 << 10

// actionErr turns a hub's error into what the operator reads.
func actionErr(hub, id string, err error) string {
	switch {
	case errors.Is(err, durable.ErrNotFound):
		return noInstance(hub, id)
	case errors.Is(err, durable.ErrNotRunning):
		return "instance " + id + " is not running: it has ended"
	case errors.Is(err, durable.ErrRunning):
		return "instance " + id + " is still running: terminate it first, then purge"
	}
	return err.Error()
}

// raiseEvent delivers an event, name and JSON data, to a running
// instance; the orchestrator gets it from its signal channel of that name.
func (c *Console) raiseEvent(w http.ResponseWriter, r *http.Request, who string) {
	hub, id := r.PathValue("hub"), r.PathValue("id")
	back := instancePath(hub, id)
	name := strings.TrimSpace(r.PostFormValue("event"))
	data := strings.TrimSpace(r.PostFormValue("data"))
	refuse := func(msg string) {
		c.o.Logger.Info("console action", "by", who, "action", "raise event", "hub", hub, "instance", id, "event", name, "error", msg)
		c.back(w, r, back, "error", "not raised: "+msg)
	}
	switch {
	case name == "":
		refuse("an event needs a name")
		return
	case len(data) > maxEventData:
		refuse(fmt.Sprintf("the data is %d bytes; at most %d may be typed here", len(data), maxEventData))
		return
	case data == "":
		data = "null"
	case !json.Valid([]byte(data)):
		refuse("the data is not JSON (a string is written in quotes: \"yes\")")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	h, note := c.hub(ctx, hub)
	if h == nil {
		refuse(note)
		return
	}
	err := h.RaiseEvent(ctx, id, name, json.RawMessage(data))
	c.o.Logger.Info("console action", "by", who, "action", "raise event", "hub", hub, "instance", id, "event", name, "bytes", len(data), "error", errText(err))
	if err != nil {
		c.back(w, r, back, "error", "not raised: "+actionErr(hub, id, err))
		return
	}
	c.back(w, r, back, "notice", "raised "+name+" on "+id)
}

// terminate ends a running instance, with the reason typed (or one that
// says who did it).
func (c *Console) terminate(w http.ResponseWriter, r *http.Request, who string) {
	hub, id := r.PathValue("hub"), r.PathValue("id")
	back := instancePath(hub, id)
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" {
		reason = "terminated from the console by " + who
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	h, note := c.hub(ctx, hub)
	if h == nil {
		c.o.Logger.Warn("console action", "by", who, "action", "terminate", "hub", hub, "instance", id, "error", note)
		c.back(w, r, back, "error", "not terminated: "+note)
		return
	}
	err := h.Terminate(ctx, id, reason)
	c.o.Logger.Warn("console action", "by", who, "action", "terminate", "hub", hub, "instance", id, "reason", reason, "error", errText(err))
	if err != nil {
		c.back(w, r, back, "error", "not terminated: "+actionErr(hub, id, err))
		return
	}
	c.back(w, r, back, "notice", "terminated "+id+": "+reason)
}

// purgeInstance removes an ended instance's history and state; the
// operator types its ID to confirm, as for a queue's purge.
func (c *Console) purgeInstance(w http.ResponseWriter, r *http.Request, who string) {
	hub, id := r.PathValue("hub"), r.PathValue("id")
	back := instancePath(hub, id)
	if r.PostFormValue("confirm") != id {
		c.back(w, r, back, "error", "type the instance's ID to confirm a purge")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	h, note := c.hub(ctx, hub)
	if h == nil {
		c.o.Logger.Warn("console action", "by", who, "action", "purge instance", "hub", hub, "instance", id, "error", note)
		c.back(w, r, back, "error", "not purged: "+note)
		return
	}
	err := h.Purge(ctx, id)
	c.o.Logger.Warn("console action", "by", who, "action", "purge instance", "hub", hub, "instance", id, "error", errText(err))
	if err != nil {
		c.back(w, r, back, "error", "not purged: "+actionErr(hub, id, err))
		return
	}
	// Its page would only say it is gone: back to the list.
	http.Redirect(w, r, "/console/orchestrations?"+url.Values{"notice": {"purged " + id + " of hub " + hub}}.Encode(), http.StatusSeeOther)
}
