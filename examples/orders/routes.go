package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
)

var _ role.Router = (*orders)(nil)

// Routes serves POST /orders on the health server (role.Router): the body
// is one order, ?priority=high|normal|low its level. The request's context
// carries the host's queue provider, so the handler needs no second port
// and no client of its own.
//
//	curl -s -d 'rush order' 'localhost:8080/orders?priority=high'
func (o *orders) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		prio, ok := map[string]queue.Priority{"": queue.Normal, "high": queue.High, "normal": queue.Normal, "low": queue.Low}[strings.ToLower(r.URL.Query().Get("priority"))]
		if !ok {
			http.Error(w, "priority: want high, normal or low", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil || len(body) == 0 {
			http.Error(w, "the body is the order (up to 64 KiB)", http.StatusBadRequest)
			return
		}
		c, err := queue.Connect(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		q, err := c.OpenQueue(r.Context(), "orders")
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		id, err := q.Enqueue(r.Context(), append([]byte("web "), body...), queue.WithPriority(prio))
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, id)
	})
}
