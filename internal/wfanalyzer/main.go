// Command wfanalyzer runs go-workflows' analyzer, which flags what makes
// an orchestrator non-deterministic (time.Now, time.Sleep, native
// channels, select, go statements, ranging over a map, sync.WaitGroup) and
// malformed workflow signatures, over the packages named on its command
// line. .ci/run runs it on the examples:
//
//	go run ./internal/wfanalyzer ./examples/...
package main

import (
	"github.com/cschleiden/go-workflows/analyzer"
	"golang.org/x/tools/go/analysis/singlechecker"
)

func main() { singlechecker.Main(analyzer.New()) }
