// Command plainrole is the lifecycle benchmark's baseline: what a team
// would write by hand — an embedded nats-server with JetStream, a stream,
// a /readyz endpoint and a SIGTERM handler — with nothing else.
package main

import (
	"context"
	"flag"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "")
	dir := flag.String("dir", os.TempDir(), "")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var ready atomic.Bool
	srv := &http.Server{Addr: *addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			w.WriteHeader(503)
		}
	})}
	go srv.ListenAndServe()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: *dir, NoLog: true, NoSigs: true})
	if err != nil {
		os.Exit(1)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		os.Exit(1)
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		os.Exit(1)
	}
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "IDLE", Subjects: []string{"idle"}}); err != nil {
		os.Exit(1)
	}
	ready.Store(true)
	<-ctx.Done()
	ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	nc.Drain()
	ns.Shutdown()
	ns.WaitForShutdown()
}
