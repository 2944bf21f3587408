// Package testutil holds small helpers shared by the tests of several
// packages. Only test files import it.
package testutil
