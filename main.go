package cloudrole

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/internal/sdnotify"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/role"
)

// Options adapt Main to its surroundings; the zero value uses the process's.
type Options struct {
	// Name is the program name used in usage text and as the default role
	// name. Defaults to the base name of os.Args[0].
	Name string
	// Stdout and Stderr default to the process's.
	Stdout, Stderr io.Writer
	// Environ defaults to os.Environ().
	Environ []string
	// DefaultConfig is the config file used when neither --config nor
	// CLOUDROLE_CONFIG names one, if that file exists.
	DefaultConfig string
	// Host is passed to lifecycle.New; its Logger, if nil, is built from
	// the config's log section and writes to Stderr.
	Host lifecycle.Options
	// Verbs are the role binary's own commands, beside the built-in ones
	// (run, validate, install, ...): an operator's tool, say, that lists a
	// queue's dead letters. See Verb.
	Verbs []Verb
	// Flags, if set, adds the role's own flags to the run verb (the
	// default one): it registers them on fs, and Main parses them with
	// --config before the role starts. Names of built-in flags are taken.
	Flags func(fs *flag.FlagSet)
}

// Main runs r as a program with the command line in os.Args, and exits with
// the resulting code. It does not return.
func Main(r role.Role) { MainWith(r, Options{}) }

// MainWith is Main with options.
func MainWith(r role.Role, opts Options) {
	os.Exit(Run(context.Background(), r, os.Args[1:], opts))
}

// Run is Main without the exit: it runs the verb in args and returns the
// exit code. ctx stops a running role like SIGTERM does.
func Run(ctx context.Context, r role.Role, args []string, opts Options) int {
	if opts.Name == "" {
		opts.Name = strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ()
	}
	if err := checkVerbs(opts.Verbs); err != nil {
		fmt.Fprintf(opts.Stderr, "%s: %v\n", opts.Name, err)
		return lifecycle.ExitUsage
	}
	cli, code := parseArgs(args, opts)
	if cli == nil {
		return code
	}
	return cli.verb.run(ctx, r, cli, opts)
}

// invocation is a parsed command line.
type invocation struct {
	verb       *verb
	configPath string
	service    serviceFlags
	args       []string // a role's own verb: what follows it, --config taken out
}

// verb is one command of the CLI.
type verb struct {
	name    string
	summary string
	flags   []string // the flags it takes besides --config
	run     func(ctx context.Context, r role.Role, inv *invocation, opts Options) int
	own     *Verb // a role's verb (opts.Verbs); nil for a built-in one
	raw     bool  // parses its own arguments (a role's verb, jobs): only --config is the CLI's
}

var installFlags = []string{"print", "name", "display-name", "description", "user", "workdir", "env"}

// verbs are the built-in verbs followed by the role's own (opts.Verbs).
func verbs(opts Options) []*verb {
	return append(builtinVerbs(), roleVerbs(opts.Verbs)...)
}

func builtinVerbs() []*verb {
	return append(hostVerbs(), roleVerbs(operatorVerbs())...)
}

// hostVerbs run, check, install and control the role itself.
func hostVerbs() []*verb {
	return []*verb{
		{name: "run", summary: "run the role in the foreground (the default); under systemd or the Windows service manager, as a service", run: runVerb},
		{name: "validate", summary: "check the config and exit (0 if valid, 3 if not)", run: validateVerb},
		{name: "install", summary: "install the role as a systemd unit or Windows service (--print shows it, installs nothing)", flags: installFlags, run: installVerb},
		{name: "uninstall", summary: "remove the installed service", flags: []string{"name"}, run: controlVerb("uninstall")},
		{name: "start", summary: "start the installed service", flags: []string{"name"}, run: controlVerb("start")},
		{name: "stop", summary: "stop the service (the graceful stop, within host.stop_timeout)", flags: []string{"name"}, run: controlVerb("stop")},
		{name: "restart", summary: "restart the service", flags: []string{"name"}, run: controlVerb("restart")},
		{name: "status", summary: "show whether the service is running", flags: []string{"name"}, run: controlVerb("status")},
		{name: "jobs", summary: "jobs of the running role: jobs | run NAME [ARGS] | get ID | wait ID | receive ID [--keep] | stop ID | history NAME", raw: true, run: jobsVerb},
		ownVerb(&workflowsVerb),
		{name: "help", summary: "show this help", run: func(_ context.Context, _ role.Role, _ *invocation, opts Options) int {
			usage(opts.Stdout, opts)
			return lifecycle.ExitOK
		}},
	}
}

func usage(w io.Writer, opts Options) {
	name := opts.Name
	fmt.Fprintf(w, "usage: %s [verb] [--config FILE] [flags]\n\nverbs:\n", name)
	for _, v := range verbs(opts) {
		fmt.Fprintf(w, "  %-10s %s\n", v.name, v.summary)
	}
	if opts.Flags != nil {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		opts.Flags(fs)
		fmt.Fprintf(w, "\nthe role's flags (run):\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fmt.Fprintf(w, "\nflags:\n"+
		"  --config FILE        the role's config file (default: $CLOUDROLE_CONFIG, or none); every verb\n"+
		"  --name NAME          service name (default: service.name, else role.name)\n"+
		"  --print              install: print the unit / service definition instead of installing\n"+
		"  --display-name TEXT  install: shown by the service manager (default: service.display_name)\n"+
		"  --description TEXT   install: (default: service.description)\n"+
		"  --user USER          install: run as this user (default: service.user)\n"+
		"  --workdir DIR        install: working directory (default: service.working_dir)\n"+
		"  --env KEY=VALUE      install: add an environment variable (repeatable; adds to service.env)\n")
	fmt.Fprintf(w, "\nexit codes: 0 stopped cleanly, 1 error, 2 usage, 3 invalid config,\n"+
		"  4 crash loop, 5 stop deadline passed, 6 second signal\n")
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// parseArgs reads "[verb] [flags]" (flags may also come before the verb).
// On a usage error or -h it prints and returns (nil, code).
func parseArgs(args []string, opts Options) (*invocation, int) {
	inv := &invocation{}
	fs := flag.NewFlagSet(opts.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&inv.configPath, "config", "", "")
	fs.StringVar(&inv.configPath, "c", "", "")
	sf := &inv.service
	fs.BoolVar(&sf.print, "print", false, "")
	fs.StringVar(&sf.name, "name", "", "")
	fs.StringVar(&sf.displayName, "display-name", "", "")
	fs.StringVar(&sf.description, "description", "", "")
	fs.StringVar(&sf.user, "user", "", "")
	fs.StringVar(&sf.workDir, "workdir", "", "")
	fs.Var((*multiFlag)(&sf.env), "env", "")
	builtin := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { builtin[f.Name] = true })
	var roleFlags []string // the flags opts.Flags added, which run takes
	if opts.Flags != nil {
		own := flag.NewFlagSet(opts.Name, flag.ContinueOnError)
		opts.Flags(own)
		var clash string
		own.VisitAll(func(f *flag.Flag) {
			if builtin[f.Name] && clash == "" {
				clash = f.Name
			}
			roleFlags = append(roleFlags, f.Name)
		})
		if clash != "" {
			fmt.Fprintf(opts.Stderr, "%s: Options.Flags: --%s is a built-in flag\n", opts.Name, clash)
			return nil, lifecycle.ExitUsage
		}
		opts.Flags(fs)
	}
	parse := func(a []string) ([]string, int) {
		if err := fs.Parse(a); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage(opts.Stdout, opts)
				return nil, lifecycle.ExitOK
			}
			fmt.Fprintf(opts.Stderr, "%s: %v\n\n", opts.Name, err)
			usage(opts.Stderr, opts)
			return nil, lifecycle.ExitUsage
		}
		return fs.Args(), -1
	}
	rest, code := parse(args)
	if code >= 0 {
		return nil, code
	}
	all := verbs(opts)
	all[0].flags = append(all[0].flags, roleFlags...) // run
	inv.verb = all[0]
	if len(rest) > 0 {
		inv.verb = nil
		for _, v := range all {
			if v.name == rest[0] {
				inv.verb = v
			}
		}
		if inv.verb == nil {
			fmt.Fprintf(opts.Stderr, "%s: unknown verb %q\n\n", opts.Name, rest[0])
			usage(opts.Stderr, opts)
			return nil, lifecycle.ExitUsage
		}
		if inv.verb.own != nil || inv.verb.raw {
			// The role's verb (and jobs) parses its own arguments; only
			// --config is the CLI's.
			var err error
			if inv.args, err = takeConfig(rest[1:], &inv.configPath); err != nil {
				fmt.Fprintf(opts.Stderr, "%s %s: %v\n", opts.Name, inv.verb.name, err)
				return nil, lifecycle.ExitUsage
			}
			rest = nil
		} else if rest, code = parse(rest[1:]); code >= 0 {
			return nil, code
		}
	}
	if len(rest) > 0 {
		fmt.Fprintf(opts.Stderr, "%s %s: unexpected argument %q\n\n", opts.Name, inv.verb.name, rest[0])
		usage(opts.Stderr, opts)
		return nil, lifecycle.ExitUsage
	}
	// Every flag is parsed everywhere; refuse one the verb does not take.
	bad := ""
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "config" && f.Name != "c" && !slices.Contains(inv.verb.flags, f.Name) && bad == "" {
			bad = f.Name
		}
	})
	if bad != "" {
		fmt.Fprintf(opts.Stderr, "%s %s: flag --%s does not apply to this verb\n\n", opts.Name, inv.verb.name, bad)
		usage(opts.Stderr, opts)
		return nil, lifecycle.ExitUsage
	}
	if inv.configPath == "" {
		inv.configPath = lookupEnv(opts.Environ, "CLOUDROLE_CONFIG")
	}
	if inv.configPath == "" && opts.DefaultConfig != "" {
		if _, err := os.Stat(opts.DefaultConfig); err == nil {
			inv.configPath = opts.DefaultConfig
		}
	}
	return inv, -1
}

func lookupEnv(environ []string, key string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// loadConfig loads the invocation's config, printing errors the way the
// validate verb and the run verb both report them.
func loadConfig(inv *invocation, opts Options) (*config.Config, config.Options, int) {
	host, _ := os.Hostname()
	copts := config.Options{Environ: opts.Environ, ProgramName: opts.Name, Hostname: host}
	var (
		cfg *config.Config
		err error
	)
	if inv.configPath == "" {
		cfg, err = config.Default(copts)
	} else {
		cfg, err = config.Load(inv.configPath, copts)
	}
	if err != nil {
		fmt.Fprintf(opts.Stderr, "%s: invalid config:\n%v\n", opts.Name, err)
		return nil, copts, lifecycle.ExitConfig
	}
	return cfg, copts, -1
}

func validateVerb(_ context.Context, _ role.Role, inv *invocation, opts Options) int {
	cfg, _, code := loadConfig(inv, opts)
	if cfg == nil {
		return code
	}
	if code := checkJobsDir(cfg, opts); code >= 0 {
		return code
	}
	where := cfg.File
	if where == "" {
		where = "defaults and environment"
	}
	fmt.Fprintf(opts.Stdout, "%s: config OK (%s)\n", opts.Name, where)
	return lifecycle.ExitOK
}

func runVerb(ctx context.Context, r role.Role, inv *invocation, opts Options) int {
	cfg, copts, code := loadConfig(inv, opts)
	if cfg == nil {
		return code
	}
	if code := checkJobsDir(cfg, opts); code >= 0 {
		return code
	}
	hopts := opts.Host
	if hopts.Logger == nil {
		hopts.Logger = newLogger(cfg.Log, opts.Stderr)
		hopts.LogStacks = cfg.Log.Format == "json" // every line a JSON record
	}
	hopts.ConfigOptions = copts
	// Under systemd with Type=notify: readiness, stopping and status.
	notify := sdnotify.FromEnv(opts.Environ)
	if notify != nil {
		hopts.Events = chainEvents(hopts.Events, systemdEvents(notify, hopts.Logger))
	}
	var x extras
	x.wire(cfg, &hopts)
	h, err := lifecycle.New(r, cfg, hopts)
	if err != nil {
		fmt.Fprintf(opts.Stderr, "%s: %v\n", opts.Name, err)
		return lifecycle.ExitError
	}
	if err := x.attach(h, cfg, hopts.Logger); err != nil {
		fmt.Fprintf(opts.Stderr, "%s: %v\n", opts.Name, err)
		return lifecycle.ExitError
	}
	defer x.close()
	runHost := func(ctx context.Context) int {
		defer x.serve(ctx)()
		if every := watchdogInterval(opts.Environ); notify != nil && every > 0 {
			wctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); watchdog(wctx, notify, h, every, hopts.Logger) }()
			defer func() { stop(); <-done }()
		}
		err := h.Run(ctx)
		if err != nil {
			hopts.Logger.Error("host ended", "error", err.Error(), "exit_code", lifecycle.ExitCode(err))
		}
		return lifecycle.ExitCode(err)
	}
	if runAsService() {
		// Started by the Windows service manager: its stop request is the
		// graceful stop of SIGTERM, with progress reported while it runs.
		return runService(first(cfg.Service.Name, cfg.Role.Name), newProgram(runHost, cfg.Host.StopTimeout))
	}
	return runHost(ctx)
}

// newLogger builds the process logger from the log section.
func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo
	}
	hopts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, hopts))
	}
	return slog.New(slog.NewTextHandler(w, hopts))
}
