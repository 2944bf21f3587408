package cloudrole

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
)

// Verb is a command a role binary adds to its command line with
// Options.Verbs: `<binary> <name> [args]`, listed by help. It runs in its
// own process, beside the role (or without it): an operator's tool that
// lists dead letters, re-queues one, or enqueues a job by hand.
type Verb struct {
	// Name is the command word: lower-case letters, digits and '-', not
	// the name of a built-in verb (run, validate, install, uninstall,
	// start, stop, restart, status, jobs, workflows, help).
	Name string
	// Summary is its line in the help, e.g. "list the dead letters".
	Summary string
	// Run does the work and returns the process's exit code (0 for
	// success; lifecycle.ExitError for a failure, lifecycle.ExitUsage for
	// bad arguments). ctx ends on SIGINT or SIGTERM.
	Run func(ctx context.Context, vc *VerbContext) int
}

// VerbContext is what a Verb gets: its arguments and the role's config.
type VerbContext struct {
	// Name is the program name, for messages.
	Name string
	// Args are the words after the verb, with --config FILE (-c FILE,
	// --config=FILE) taken out: the verb parses them itself.
	Args []string
	// Config is the role's config, loaded and validated as the run verb
	// would (from --config, CLOUDROLE_CONFIG or Options.DefaultConfig).
	Config *config.Config
	// Stdout and Stderr are the process's, or Options'.
	Stdout, Stderr io.Writer

	mu        sync.Mutex
	providers []*queue.Provider
}

// Queues connects to the queues of the role the config describes: its
// external NATS (nats.url, with its credentials) or, with the embedded
// server, the one a running instance of the role serves on this machine
// (found through its store's lock file, queue.EmbeddedURL). It does not
// wait for a server that is not there: the error says the role is not
// running. The connection is closed when the verb returns.
func (vc *VerbContext) Queues(ctx context.Context) (*queue.Client, error) {
	n := vc.Config.NATS.InUse()
	if n.URL == "" {
		url, err := queue.EmbeddedURL(n.StoreDir)
		if err != nil {
			return nil, fmt.Errorf("finding the role's embedded NATS server (is the role running on this machine?): %w", err)
		}
		n = queue.NATS{URL: url}
	}
	p, err := queue.NewProvider(queue.Options{NATS: n, Name: vc.Name})
	if err != nil {
		return nil, err
	}
	vc.mu.Lock()
	vc.providers = append(vc.providers, p)
	vc.mu.Unlock()
	// Client waits for an unreachable server; a command line should not
	// wait long for a role that is not running.
	cctx, cancel := context.WithTimeout(ctx, verbConnectWait)
	defer cancel()
	c, err := p.Client(cctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS (is the role running?): %w", err)
	}
	return c, nil
}

// verbConnectWait bounds how long Queues waits for the NATS server.
const verbConnectWait = 3 * time.Second

// signalContext is ctx, also ended by SIGINT or SIGTERM.
func signalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

func (vc *VerbContext) close() {
	vc.mu.Lock()
	ps := vc.providers
	vc.providers = nil
	vc.mu.Unlock()
	for _, p := range ps {
		_ = p.Close()
	}
}

// checkVerbs refuses role verbs that would shadow built-in ones or cannot
// be typed: a mistake in the program, reported before anything runs.
func checkVerbs(vs []Verb) error {
	seen := map[string]bool{}
	for _, v := range builtinVerbs() {
		seen[v.name] = true
	}
	for i, v := range vs {
		switch {
		case v.Name == "" || strings.Trim(v.Name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" || v.Name[0] == '-':
			return fmt.Errorf("Options.Verbs[%d]: name %q: use lower-case letters, digits and '-', not starting with '-'", i, v.Name)
		case seen[v.Name]:
			return fmt.Errorf("Options.Verbs[%d]: %q is already a verb", i, v.Name)
		case v.Run == nil:
			return fmt.Errorf("Options.Verbs[%d] %q: nil Run", i, v.Name)
		}
		seen[v.Name] = true
	}
	return nil
}

// roleVerbs wraps the role's verbs as CLI verbs.
func roleVerbs(vs []Verb) []*verb {
	out := make([]*verb, 0, len(vs))
	for i := range vs {
		out = append(out, ownVerb(&vs[i]))
	}
	return out
}

// ownVerb wraps a Verb (the role's, or a built-in one written as a Verb,
// such as workflows) as a CLI verb: it parses its own arguments.
func ownVerb(v *Verb) *verb {
	return &verb{name: v.Name, summary: v.Summary, own: v, run: func(ctx context.Context, _ role.Role, inv *invocation, opts Options) int {
		cfg, _, code := loadConfig(inv, opts)
		if cfg == nil {
			return code
		}
		vc := &VerbContext{Name: opts.Name, Args: inv.args, Config: cfg, Stdout: opts.Stdout, Stderr: opts.Stderr}
		defer vc.close()
		ctx, stop := signalContext(ctx)
		defer stop()
		return v.Run(ctx, vc)
	}}
}

// takeConfig removes --config FILE, -c FILE and --config=FILE from args,
// setting *path, and returns the rest in order.
func takeConfig(args []string, path *string) ([]string, error) {
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(rest, args[i:]...), nil
		case a == "--config" || a == "-config" || a == "-c" || a == "--c":
			if i+1 >= len(args) {
				return nil, errors.New("--config needs a file")
			}
			*path, i = args[i+1], i+1
		case strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config="):
			*path = a[strings.IndexByte(a, '=')+1:]
		default:
			rest = append(rest, a)
		}
	}
	return rest, nil
}
