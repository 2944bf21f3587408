package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/queue"
)

// deadLetterVerb lists or re-queues dead letters of the orders queue. It
// connects to the running role's embedded server through the fixed
// loopback port in the config (or to nats.url when one is set).
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
		if strings.HasSuffix(cfg.NATS.Listen, ":-1") {
			fmt.Fprintln(os.Stderr, "nats.listen picks a random port; set a fixed one to reach the running role")
			return 2
		}
		url = "nats://" + cfg.NATS.Listen
	}
	p, err := queue.NewProvider(queue.Options{URL: url, CredsFile: cfg.NATS.CredsFile, User: cfg.NATS.User,
		Password: cfg.NATS.Password, Token: cfg.NATS.Token, TLSCA: cfg.NATS.TLSCA, TLSCert: cfg.NATS.TLSCert, TLSKey: cfg.NATS.TLSKey})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := p.Client(ctx)
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
