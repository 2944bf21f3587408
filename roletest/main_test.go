package roletest_test

import (
	"testing"

	"github.com/cloudrole/cloudrole/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, testutil.ServerGoroutines...)
}
