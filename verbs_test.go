package cloudrole

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/role"
)

// A role binary's own verb gets its arguments (with --config taken out,
// wherever it stands) and the loaded config, is listed by help, and
// returns the exit code.
func TestRoleVerb(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "role.yaml")
	if err := os.WriteFile(cfgPath, []byte("role: {name: tool-test}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got *VerbContext
	opts := Options{Name: "tool", Environ: []string{}, Verbs: []Verb{{
		Name: "hello", Summary: "say hello",
		Run: func(_ context.Context, vc *VerbContext) int { got = vc; return 7 },
	}}}
	out := &testutil.Buffer{}
	opts.Stdout, opts.Stderr = out, out
	code := Run(context.Background(), role.Default{}, []string{"hello", "a", "--config", cfgPath, "-x", "b"}, opts)
	if code != 7 || got == nil {
		t.Fatalf("exit %d, verb ran: %v\n%s", code, got != nil, out)
	}
	if strings.Join(got.Args, " ") != "a -x b" || got.Config.Role.Name != "tool-test" {
		t.Fatalf("args %q, role %q", got.Args, got.Config.Role.Name)
	}
	out.Reset()
	if code := Run(context.Background(), role.Default{}, []string{"help"}, opts); code != 0 || !strings.Contains(out.String(), "hello") || !strings.Contains(out.String(), "say hello") {
		t.Fatalf("help: exit %d\n%s", code, out)
	}
}

// A verb that would shadow a built-in one, or cannot be typed, is refused
// before anything runs.
func TestRoleVerbRefused(t *testing.T) {
	for _, v := range []Verb{
		{Name: "run", Run: func(context.Context, *VerbContext) int { return 0 }},
		{Name: "Bad Name", Run: func(context.Context, *VerbContext) int { return 0 }},
		{Name: "nil-run"},
	} {
		out := &testutil.Buffer{}
		code := Run(context.Background(), role.Default{}, []string{"validate"}, Options{Name: "tool", Environ: []string{}, Stdout: out, Stderr: out, Verbs: []Verb{v}})
		if code != lifecycle.ExitUsage || !strings.Contains(out.String(), "Options.Verbs[0]") {
			t.Errorf("verb %q: exit %d\n%s", v.Name, code, out)
		}
	}
}

// The role's own flags are parsed for run before the role starts, listed
// by help, and refused for other verbs.
func TestRoleFlags(t *testing.T) {
	var done bool
	flags := func(fs *flag.FlagSet) { fs.BoolVar(&done, "exit-when-done", false, "stop after the work") }
	out := &testutil.Buffer{}
	opts := Options{Name: "tool", Environ: []string{}, Stdout: out, Stderr: out, Flags: flags}
	if code := Run(context.Background(), role.Default{}, []string{"help"}, opts); code != 0 || !strings.Contains(out.String(), "-exit-when-done") {
		t.Fatalf("help: exit %d\n%s", code, out)
	}
	out.Reset()
	if code := Run(context.Background(), role.Default{}, []string{"validate", "-exit-when-done"}, opts); code != lifecycle.ExitUsage {
		t.Fatalf("validate -exit-when-done: exit %d, want %d\n%s", code, lifecycle.ExitUsage, out)
	}
	// run with the flag: a role that stops itself at once.
	r := &stopSelf{}
	opts.Host.HealthListener = nil
	cfgPath := filepath.Join(t.TempDir(), "role.yaml")
	os.WriteFile(cfgPath, []byte("role: {name: flagrole, data_dir: "+t.TempDir()+"}\nhealth: {addr: \"off\"}\n"), 0o644)
	if code := Run(context.Background(), r, []string{"run", "--config", cfgPath, "-exit-when-done"}, opts); code != 0 || !done {
		t.Fatalf("run -exit-when-done: exit %d, flag %v\n%s", code, done, out)
	}
	clash := Options{Name: "tool", Environ: []string{}, Stdout: out, Stderr: out, Flags: func(fs *flag.FlagSet) { fs.String("config", "", "") }}
	if code := Run(context.Background(), role.Default{}, nil, clash); code != lifecycle.ExitUsage {
		t.Fatalf("a role flag named config: exit %d", code)
	}
}

// stopSelf asks the host to stop as soon as it runs.
type stopSelf struct{ role.Default }

func (stopSelf) Run(ctx context.Context, env role.Env) error {
	env.RequestStop("done")
	<-ctx.Done()
	return nil
}
