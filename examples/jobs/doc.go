// Command jobs is the jobs demo: WebJobs-style jobs with PowerShell-style
// runs in one role, on an embedded NATS server — nothing to install.
//
// Three jobs, one of each kind:
//
//   - report, a Go triggered job (added in OnStart with jobs.Add): it
//     runs when started, with arguments, and writes its progress.
//
//   - cleanup, a scheduled shell script from the WebJobs-layout folder
//     jobs/triggered/cleanup (run.sh and its settings.job): every 30
//     seconds, never overlapping itself, stopped the WebJobs way.
//
//   - leader, a Go continuous singleton: it runs all the time on one
//     instance of the fleet (start a second copy with another data dir
//     and an external NATS to see it stay inactive there).
//
//     go run ./examples/jobs                           # run the role (Ctrl-C stops it)
//     go run ./examples/jobs jobs                      # the jobs, with their last run
//     go run ./examples/jobs jobs run report weekly    # start a run: prints its ID
//     go run ./examples/jobs jobs receive ID           # its output so far (each line once)
//     go run ./examples/jobs jobs wait ID              # until it ends
//     go run ./examples/jobs jobs history cleanup      # the scheduled runs
//     curl -s localhost:8081/jobs/report/runs          # the same over HTTP
//     open http://localhost:8081/console/jobs          # and in the web console
package main
