package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/queue"
)

// deadLetterVerb lists or re-queues dead letters of the orders queue. It
// connects to nats.url when one is set; otherwise to the running role's
// embedded server, whose URL (a free port) the role recorded in the lock
// file of its store (queue.EmbeddedURL).
func deadLetterVerb(verb string, args []string) int {
	path := configFile
	if len(args) > 1 && args[0] == "--config" {
		path, args = args[1], args[2:]
	}
	cfg, err := config.Load(path, config.Options{Environ: os.Environ()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	url := cfg.NATS.URL
	if url == "" {
		if url, err = queue.EmbeddedURL(cfg.NATS.StoreDir); err != nil {
			fmt.Fprintf(os.Stderr, "finding the role's server: %v (is the role running? go run ./examples/orders)\n", err)
			return 1
		}
	}
	n := cfg.NATS.InUse()
	if n.URL == "" {
		n = queue.NATS{URL: url}
	}
	p, err := queue.NewProvider(queue.Options{NATS: n})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Client waits for a server that is not up; a command line should not
	// wait long for a role that is not running.
	cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
	defer ccancel()
	c, err := p.Client(cctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "connecting to %s (is the role running?): %v\n", url, err)
		return 1
	}
	// Open the queue as the running role stored it: this tool must not
	// decide its settings.
	q, err := c.OpenQueue(ctx, "orders")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	switch verb {
	case "dead-letters":
		dead, err := q.DeadLetters(ctx, 100)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "SEQ\tID\tPRIORITY\tATTEMPTS\tDEAD AT\tPAYLOAD\tERROR")
		for _, d := range dead {
			fmt.Fprintf(w, "%d\t%s\t%d\t%d\t%s\t%q\t%s\n", d.Seq, d.ID, d.Priority, d.Attempts, d.DeadAt.Format(time.TimeOnly), d.Payload, d.Error)
		}
		w.Flush()
		fmt.Printf("%d dead letters\n", len(dead))
	case "requeue":
		if len(args) != 1 {
			fmt.Fprintln(os.Stderr, "usage: orders requeue SEQ|JOB-ID")
			return 2
		}
		if err := q.Requeue(ctx, args[0]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("re-queued", args[0])
	}
	return 0
}
