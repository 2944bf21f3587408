package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func main() {
	opts, logs, err := parse(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsserver:", err)
		os.Exit(2)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsserver:", err)
		os.Exit(1)
	}
	if logs {
		s.ConfigureLogger()
	}
	// Start also installs the server's own signal handling: SIGTERM and
	// SIGINT shut it down and exit.
	s.Start()
	if !s.ReadyForConnections(time.Minute) {
		fmt.Fprintf(os.Stderr, "natsserver: %s not ready for clients on %s:%d within a minute\n", opts.ServerName, opts.Host, opts.Port)
		os.Exit(1)
	}
	fmt.Printf("natsserver ready %s\n", s.ClientURL())
	s.WaitForShutdown()
}

// parse turns the command line into server options and whether to log.
func parse(args []string) (*server.Options, bool, error) {
	fs := flag.NewFlagSet("natsserver", flag.ContinueOnError)
	name := fs.String("name", "", "server name")
	addr := fs.String("addr", "", "client address HOST:PORT")
	store := fs.String("store", "", "JetStream store directory")
	cluster := fs.String("cluster", "", "route address HOST:PORT")
	clusterName := fs.String("cluster-name", "faults", "cluster name")
	routes := fs.String("routes", "", "comma-separated nats-route:// URLs")
	sync := fs.String("sync", "2m", `"always" or a sync interval`)
	logs := fs.Bool("log", false, "log to stderr")
	if err := fs.Parse(args); err != nil {
		return nil, false, err
	}
	if *name == "" || *addr == "" || *store == "" {
		return nil, false, fmt.Errorf("-name, -addr and -store are required")
	}
	o := &server.Options{ServerName: *name, JetStream: true, StoreDir: *store, NoLog: !*logs, Logtime: true}
	var err error
	if o.Host, o.Port, err = hostPort(*addr); err != nil {
		return nil, false, fmt.Errorf("-addr %q: %w", *addr, err)
	}
	if *sync == "always" {
		o.SyncAlways = true
	} else if o.SyncInterval, err = time.ParseDuration(*sync); err != nil || o.SyncInterval <= 0 {
		return nil, false, fmt.Errorf(`-sync %q: want "always" or a positive duration`, *sync)
	}
	if *cluster != "" {
		o.Cluster.Name = *clusterName
		if o.Cluster.Host, o.Cluster.Port, err = hostPort(*cluster); err != nil {
			return nil, false, fmt.Errorf("-cluster %q: %w", *cluster, err)
		}
		o.Routes = server.RoutesFromStr(*routes)
	}
	return o, *logs, nil
}

func hostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("port %q: want 1 to 65535", p)
	}
	return h, port, nil
}
