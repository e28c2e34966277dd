package hooks

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/redisguard/redisguard/internal/redistest"
)

// TestMain checks that no test of the package leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, redistest.LeakOptions()...)
}
