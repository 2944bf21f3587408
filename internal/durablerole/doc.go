// Command durablerole is a role binary for the fault suite: it works a
// durable hub whose orchestrations the suite starts (a chain of three
// activities, and a 10-second durable timer), and records every activity
// execution as one line of its effects file, so the suite can count what
// ran, what ran again and what never ran after it SIGKILLs the process.
package main
