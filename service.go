package cloudrole

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kardianos/service"

	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/role"
)

// serviceFlags are the install options given on the command line; each
// overrides the config's service section.
type serviceFlags struct {
	print                                         bool
	name, displayName, description, user, workDir string
	env                                           []string // KEY=VALUE, repeatable
}

// serviceSpec is everything needed to install the role as a service.
type serviceSpec struct {
	Name, DisplayName, Description, User, WorkingDir string
	Env                                              map[string]string
	Exe                                              string   // absolute path of this binary
	Args                                             []string // "run --config ABS"
	StopTimeout                                      time.Duration
}

func (s *serviceSpec) description() string {
	if s.Description != "" {
		return s.Description
	}
	return s.DisplayName
}

// newServiceSpec merges the config's service section, the flags and this
// executable into a spec, or returns an error naming the bad input.
func newServiceSpec(inv *invocation, opts Options) (*serviceSpec, int) {
	cfg, _, code := loadConfig(inv, opts)
	if cfg == nil {
		return nil, code
	}
	f := inv.service
	sc := cfg.Service
	spec := &serviceSpec{
		Name:        first(f.name, sc.Name, cfg.Role.Name),
		DisplayName: first(f.displayName, sc.DisplayName),
		Description: first(f.description, sc.Description),
		User:        first(f.user, sc.User),
		WorkingDir:  first(f.workDir, sc.WorkingDir),
		Env:         map[string]string{},
		StopTimeout: cfg.Host.StopTimeout,
	}
	if spec.DisplayName == "" {
		spec.DisplayName = spec.Name
	}
	for k, v := range sc.Env {
		spec.Env[k] = v
	}
	for _, kv := range f.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			fmt.Fprintf(opts.Stderr, "%s: --env %q: want KEY=VALUE\n", opts.Name, kv)
			return nil, lifecycle.ExitUsage
		}
		spec.Env[k] = v
	}
	if err := validServiceName(spec.Name); err != nil {
		fmt.Fprintf(opts.Stderr, "%s: service name: %v\n", opts.Name, err)
		return nil, lifecycle.ExitUsage
	}
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		fmt.Fprintf(opts.Stderr, "%s: finding this executable: %v\n", opts.Name, err)
		return nil, lifecycle.ExitError
	}
	spec.Exe = exe
	spec.Args = []string{"run"}
	if cfg.File != "" {
		abs, err := filepath.Abs(cfg.File)
		if err != nil {
			fmt.Fprintf(opts.Stderr, "%s: config path: %v\n", opts.Name, err)
			return nil, lifecycle.ExitError
		}
		spec.Args = append(spec.Args, "--config", abs)
	}
	if spec.WorkingDir != "" {
		if spec.WorkingDir, err = filepath.Abs(spec.WorkingDir); err != nil {
			fmt.Fprintf(opts.Stderr, "%s: working dir: %v\n", opts.Name, err)
			return nil, lifecycle.ExitError
		}
	}
	return spec, -1
}

// validServiceName accepts what both systemd unit names and the Windows
// service manager take.
func validServiceName(n string) error {
	if n == "" {
		return errors.New("empty")
	}
	for i, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '@') {
			return fmt.Errorf("%q has %q at byte %d; use letters, digits, - _ . @", n, r, i)
		}
	}
	return nil
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// kardianosConfig is the spec as kardianos/service takes it. On systemd
// our own unit is the template (already rendered, so it has no template
// actions): install writes exactly what install --print shows.
func (s *serviceSpec) kardianosConfig() *service.Config {
	return &service.Config{
		Name:             s.Name,
		DisplayName:      s.DisplayName,
		Description:      s.description(),
		UserName:         s.User,
		Executable:       s.Exe,
		Arguments:        s.Args,
		WorkingDirectory: s.WorkingDir,
		EnvVars:          s.Env,
		Option: service.KeyValue{
			"SystemdScript": s.systemdUnit(),
			// Windows: start at boot, restart on failure after 5 s.
			"StartType":              "automatic",
			"OnFailure":              "restart",
			"OnFailureDelayDuration": restartDelay.String(),
		},
	}
}

// printDefinition is install --print: the definition install would write.
func (s *serviceSpec) printDefinition() string {
	if service.ChosenSystem() != nil && service.ChosenSystem().String() == "windows-service" {
		return fmt.Sprintf("Windows service %q (%s)\n  binary:      %s %s\n  start:       automatic\n  on failure:  restart after %v\n  stop:        graceful, stop-pending reported for up to %v\n",
			s.Name, s.DisplayName, s.Exe, strings.Join(s.Args, " "), restartDelay, s.StopTimeout+stopMargin)
	}
	return s.systemdUnit()
}

func installVerb(_ context.Context, _ role.Role, inv *invocation, opts Options) int {
	spec, code := newServiceSpec(inv, opts)
	if spec == nil {
		return code
	}
	if inv.configPath == "" {
		// Not an error (a role may need no config), but a unit without
		// one is rarely what was meant.
		fmt.Fprintf(opts.Stderr, "%s install: note: no --config (nor CLOUDROLE_CONFIG): the service will run %q with no config file; pass --config FILE to bake it into the service's command line\n", opts.Name, "run")
	}
	if inv.service.print {
		fmt.Fprint(opts.Stdout, spec.printDefinition())
		return lifecycle.ExitOK
	}
	return controlService(spec, "install", opts)
}

// controlVerb returns the verb function for a kardianos control action.
func controlVerb(action string) func(context.Context, role.Role, *invocation, Options) int {
	return func(_ context.Context, _ role.Role, inv *invocation, opts Options) int {
		spec, code := newServiceSpec(inv, opts)
		if spec == nil {
			return code
		}
		return controlService(spec, action, opts)
	}
}

func controlService(spec *serviceSpec, action string, opts Options) int {
	s, err := service.New(noopProgram{}, spec.kardianosConfig())
	if err != nil {
		fmt.Fprintf(opts.Stderr, "%s %s: %v\n", opts.Name, action, err)
		return lifecycle.ExitError
	}
	if action == "status" {
		st, err := s.Status()
		switch {
		case errors.Is(err, service.ErrNotInstalled):
			fmt.Fprintf(opts.Stdout, "%s: not installed (%s install installs it)\n", spec.Name, opts.Name)
			return lifecycle.ExitError
		case err != nil:
			// kardianos passes on the service manager's own failure,
			// often just "exit status 1".
			fmt.Fprintf(opts.Stderr, "%s status: the service manager (%s) could not tell the state of %q: %v; is it installed (%s install)?\n",
				opts.Name, s.Platform(), spec.Name, err, opts.Name)
			return lifecycle.ExitError
		}
		state := "unknown"
		switch st {
		case service.StatusRunning:
			state = "running"
		case service.StatusStopped:
			state = "stopped"
		}
		fmt.Fprintf(opts.Stdout, "%s: %s\n", spec.Name, state)
		return lifecycle.ExitOK
	}
	if err := service.Control(s, action); err != nil {
		fmt.Fprintf(opts.Stderr, "%s %s: %v\n", opts.Name, action, err)
		return lifecycle.ExitError
	}
	fmt.Fprintf(opts.Stdout, "%s: %s done\n", spec.Name, action)
	return lifecycle.ExitOK
}

// noopProgram satisfies kardianos for the control verbs, which never run
// the service in this process.
type noopProgram struct{}

func (noopProgram) Start(service.Service) error { return nil }
func (noopProgram) Stop(service.Service) error  { return nil }
