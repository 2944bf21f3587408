package console

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// events streams a view's main section as server-sent events, one every
// Refresh, until the browser goes away: the page's script swaps it in, so
// pages update without reloading and without any client-side rendering.
func (c *Console) events(w http.ResponseWriter, r *http.Request, who string) {
	v, ok := c.viewOf(r.URL.Query())
	if !ok {
		http.Error(w, "unknown view", http.StatusBadRequest)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	// No write deadline for a stream the server holds open (the health
	// server's WriteTimeout would cut it); each write has its own below.
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	t := time.NewTicker(c.o.Refresh)
	defer t.Stop()
	for {
		if err := c.push(r.Context(), rc, w, v, who); err != nil {
			return
		}
		if v.done != nil && v.done() {
			// Nothing will change: tell the script to close the stream
			// (a stream that just ends, EventSource opens again).
			_, _ = w.Write([]byte("event: end\ndata: end\n\n"))
			fl.Flush()
			return
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}

func (c *Console) push(ctx context.Context, rc *http.ResponseController, w http.ResponseWriter, v view, who string) error {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	data, note := v.data(dctx)
	cancel()
	var buf bytes.Buffer
	if err := c.pages.ExecuteTemplate(&buf, v.main, page{Who: who, CanAct: len(c.o.Tokens) > 0, Data: data, Notice: note}); err != nil {
		return err
	}
	_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	var out strings.Builder
	out.WriteString("event: update\n")
	for _, line := range strings.Split(buf.String(), "\n") {
		fmt.Fprintf(&out, "data: %s\n", line)
	}
	out.WriteString("\n")
	_, err := w.Write([]byte(out.String()))
	return err
}
