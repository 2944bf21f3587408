// Package faults is cloudrole's fault suite: tests that crash, kill, cut and
// feed bad input to real processes and real servers, and count what was
// lost. It holds no library code; its tests are the product.
//
// By default every scenario runs in a bounded mode that keeps the whole
// package under a few minutes on 2 cores (.ci/run runs it). Set
// CLOUDROLE_FAULTS_LONG=1 for the longer mode whose figures RELIABILITY.md
// quotes.
package faults
