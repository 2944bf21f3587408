package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Every action logs who did what, then sends the browser back to the page
// it came from (the form's next field, checked to stay in the console),
// with the outcome as a notice or an error.

func (c *Console) back(w http.ResponseWriter, r *http.Request, fallback, key, msg string) {
	next := r.PostFormValue("next")
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") {
		next = fallback
	}
	u, err := url.Parse(next)
	if err != nil {
		u, _ = url.Parse(fallback)
	}
	q := u.Query()
	q.Del("error")
	q.Del("notice")
	if msg != "" {
		q.Set(key, msg)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func (c *Console) requeue(w http.ResponseWriter, r *http.Request, who string) {
	name, ref := r.PathValue("name"), r.PostFormValue("ref")
	back := "/console/queues/" + url.PathEscape(name)
	cl := c.client()
	if cl == nil {
		c.back(w, r, back, "error", "not connected to NATS")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	q, err := cl.OpenQueue(ctx, name)
	if err != nil {
		c.back(w, r, back, "error", err.Error())
		return
	}
	if ref == "all" {
		n, err := q.RequeueAll(ctx)
		c.o.Logger.Info("console action", "by", who, "action", "requeue all", "queue", name, "requeued", n, "error", errText(err))
		if err != nil {
			c.back(w, r, back, "error", fmt.Sprintf("re-queued %d, then: %v", n, err))
			return
		}
		c.back(w, r, back, "notice", fmt.Sprintf("re-queued %d dead letters", n))
		return
	}
	err = q.Requeue(ctx, ref)
	c.o.Logger.Info("console action", "by", who, "action", "requeue", "queue", name, "ref", ref, "error", errText(err))
	if err != nil {
		c.back(w, r, back, "error", err.Error())
		return
	}
	c.back(w, r, back, "notice", "re-queued dead letter "+ref)
}

func (c *Console) purge(w http.ResponseWriter, r *http.Request, who string) {
	name, what := r.PathValue("name"), r.PostFormValue("what")
	back := "/console/queues/" + url.PathEscape(name)
	if r.PostFormValue("confirm") != name {
		c.back(w, r, back, "error", "type the queue's name to confirm a purge")
		return
	}
	cl := c.client()
	if cl == nil {
		c.back(w, r, back, "error", "not connected to NATS")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	q, err := cl.OpenQueue(ctx, name)
	if err != nil {
		c.back(w, r, back, "error", err.Error())
		return
	}
	var n uint64
	switch what {
	case "dead-letters":
		n, err = q.PurgeDeadLetters(ctx)
	case "jobs":
		n, err = q.Purge(ctx)
	default:
		c.back(w, r, back, "error", "purge what? jobs or dead-letters")
		return
	}
	c.o.Logger.Warn("console action", "by", who, "action", "purge "+what, "queue", name, "deleted", n, "error", errText(err))
	if err != nil {
		c.back(w, r, back, "error", err.Error())
		return
	}
	c.back(w, r, back, "notice", fmt.Sprintf("purged %d %s", n, what))
}

func (c *Console) freeze(w http.ResponseWriter, r *http.Request, who string) {
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" {
		reason = "frozen from the console by " + who
	}
	c.o.Logger.Warn("console action", "by", who, "action", "freeze", "reason", reason)
	c.o.Host.Freeze(reason)
	c.back(w, r, "/console/", "notice", "frozen: "+reason)
}

func (c *Console) unfreeze(w http.ResponseWriter, r *http.Request, who string) {
	c.o.Logger.Warn("console action", "by", who, "action", "unfreeze")
	c.o.Host.Unfreeze()
	c.back(w, r, "/console/", "notice", "unfrozen")
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
