// Package cronspec is cloudrole's one reading of a 6-field NCRONTAB spec
// ("second minute hour day month day-of-week", as WebJobs, Azure Functions
// and nats-server's message schedules take it): the checks, with errors
// that name the wrong field and show the expected form, and the fire
// times. Package tasks (CRON tasks, tasks.ParseCron) and package queue
// (recurring schedules the server fires) both use it, so a spec one
// accepts the other accepts too. The field syntax is that of
// github.com/netresearch/go-cron, which does the parsing.
//
// Two ways to follow a spec, because two different clocks follow it:
//
//   - Next places fire times by cloudrole's daylight-saving rules (a
//     repeated local time fires once, at its first occurrence; a skipped
//     one fires once, at the jump), which tasks documents;
//   - ServerNext and ServerPrev follow the spec as nats-server does (the
//     robfig/cron search in the zone's own time, which go-cron shares), so
//     the queue can name the fire a server-fired message stands for.
package cronspec
