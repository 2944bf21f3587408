package roletest_test

import (
	"go/build"
	"strings"
	"testing"
)

// roletest stays a small kit: the role API, queue for Options.Queues and
// Queues, jobs for Options.Jobs, and the host context; never the host
// itself (see the package doc on why its causes are its own).
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{
		"github.com/cloudrole/cloudrole/role":             true,
		"github.com/cloudrole/cloudrole/queue":            true,
		"github.com/cloudrole/cloudrole/jobs":             true,
		"github.com/cloudrole/cloudrole/internal/hostctx": true,
	}
	for _, imp := range pkg.Imports {
		if strings.Contains(imp, ".") && !allowed[imp] {
			t.Errorf("roletest imports %s", imp)
		}
	}
}
