package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// idleQueueConsumers is how many durable consumers an idle queue at the
// default three levels has on its server: one per level stream, and one
// per level on the schedule stream through which the level sources its
// due jobs.
const idleQueueConsumers = 6

// serverShutdownRows measure the upstream floor under the "SIGTERM to
// exit" row: the embedded nats-server's own Shutdown with a WorkQueue
// stream and no consumer, and with as many durable (file-stored)
// consumers as an idle queue has. nats-server stops consumers one after
// another, and each consumer store's Stop polls its flusher goroutine
// every 10 ms until it has exited (consumerFileStore.waitOnFlusher in
// server/filestore.go), so every durable consumer adds about 10 ms.
func serverShutdownRows(e *env) ([]row, error) {
	var none, some []float64
	for i := range 2 * e.sz.reps {
		runs := []func() error{
			func() error { d, err := e.timeShutdown(0); none = append(none, d); return err },
			func() error { d, err := e.timeShutdown(idleQueueConsumers); some = append(some, d); return err },
		}
		if i%2 == 1 {
			runs[0], runs[1] = runs[1], runs[0]
		}
		for _, run := range runs {
			if err := run(); err != nil {
				return nil, err
			}
		}
	}
	return []row{
		{Scenario: "nats-server Shutdown, one stream, no consumer", Unit: "ms", Ref: true, Baseline: "upstream floor", Base: median(none)},
		{Scenario: fmt.Sprintf("nats-server Shutdown, one stream, %d durable consumers (an idle 3-level queue's)", idleQueueConsumers), Unit: "ms", Ref: true,
			Baseline: "upstream floor", Base: median(some)},
	}, nil
}

// timeShutdown starts a server with a WorkQueue stream and n durable
// consumers, and times its Shutdown, in milliseconds.
func (e *env) timeShutdown(n int) (float64, error) {
	dir, err := os.MkdirTemp(e.dir, "shutdown")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: filepath.Join(dir, "js"), NoLog: true, NoSigs: true})
	if err != nil {
		return 0, err
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return 0, errors.New("nats-server did not start")
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		s.Shutdown()
		return 0, err
	}
	err = func() error {
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Retention: jetstream.WorkQueuePolicy})
		if err != nil {
			return err
		}
		for i := range n {
			_, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: fmt.Sprintf("c%d", i), FilterSubject: fmt.Sprintf("s.%d", i), AckPolicy: jetstream.AckExplicitPolicy})
			if err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		s.Shutdown()
		return 0, err
	}
	start := time.Now()
	s.Shutdown()
	s.WaitForShutdown()
	return float64(time.Since(start)) / float64(time.Millisecond), nil
}
